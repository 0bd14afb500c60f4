import { describe, expect, it } from 'vitest';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;

describe('protecting pairs on real qemu and nats-server', () => {
  it('protects two VMs with two disks each at once, independently', async () => {
    const pair = await setupPair(tmpRun('two-vms'), { vms: 2, disks: 2 });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const [vm1, vm2] = await Promise.all([pair.waitProtected('vm1'), pair.waitProtected('vm2')]);
    expect(vm1.protected && vm2.protected).toBe(true);
    expect(vm1.nodes[0]!.qemuPid).not.toBe(vm2.nodes[0]!.qemuPid);

    // Killing one VM's secondary qemu leaves the other VM protected.
    process.kill(pair.qemuPid('beta', 'vm2')!, 'SIGKILL');
    await waitFor(async () => !(await pair.status('vm2')).protected, { timeoutMs: 15_000, what: 'vm2 unprotected' });
    const still = await pair.status('vm1');
    expect(still.protected).toBe(true);
  });

  it('a primary started before its secondary waits, then protects', async () => {
    const pair = await setupPair(tmpRun('primary-first'));
    await pair.startAgent('alpha');
    const waiting = await waitFor(async () => {
      const s = await pair.status();
      return s.nodes[0]!.phase === 'awaitingSecondary' ? s : false;
    }, { timeoutMs: 15_000, what: 'primary waiting for its secondary' });
    expect(waiting.protected).toBe(false);
    expect(waiting.nodes[1]!.reachable).toBe(false);
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await pair.status()).nodes[0]!.runState).toBe('running');
    await pair.startAgent('beta');
    const s = await pair.waitProtected();
    expect(s.nodes.map((n) => n.coloMode)).toEqual(['primary', 'secondary']);
  });

  it('the secondary refuses a disk whose size differs, and the primary VM keeps running', async () => {
    const pair = await setupPair(tmpRun('size-mismatch'), { sizeBytes: { alpha: 64 * MiB, beta: 32 * MiB } });
    await pair.startAgent('beta');
    await pair.startAgent('alpha');
    const refused = await waitFor(async () => {
      const s = await pair.status();
      return s.nodes[0]!.phase === 'unprotected' && s.nodes[1]!.reason?.startsWith('refused the primary') && s.nodes[1]!.coloMode ? s : false;
    }, { timeoutMs: 15_000, what: 'both sides to report the refusal' });
    expect(refused.protected).toBe(false);
    expect(refused.reason).toMatch(/disk 0.*33554432 bytes.*67108864 bytes/);
    expect(refused.nodes[0]!.runState).toBe('running');
    expect(refused.nodes[0]!.coloMode).toBe('none');
    expect(refused.nodes[1]!.coloMode).toBe('none');
    expect(refused.nodes[1]!.reason).toMatch(/refuses disk 0/);
  });
});
