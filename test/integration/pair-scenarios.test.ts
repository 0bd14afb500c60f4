import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setupPair } from '../helpers/pair.js';
import { imageHasPattern } from '../helpers/pattern.js';
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
      return ['unprotected', 'awaitingRetry'].includes(s.nodes[0]!.phase ?? '') && s.nodes[1]!.reason?.startsWith('refused the primary') && s.nodes[1]!.coloMode ? s : false;
    }, { timeoutMs: 15_000, what: 'both sides to report the refusal' });
    expect(refused.protected).toBe(false);
    expect(refused.reason).toMatch(/disk 0.*33554432 bytes.*67108864 bytes/);
    expect(refused.nodes[0]!.runState).toBe('running');
    expect(refused.nodes[0]!.coloMode).toBe('none');
    expect(refused.nodes[1]!.coloMode).toBe('none');
    expect(refused.nodes[1]!.reason).toMatch(/refuses disk 0/);
  });

  it('a first protection that fails after the secondary answered (its copy job cancelled) is tried again and protects', async () => {
    // The copy is slowed so the test can cancel it mid-way, as an NBD error would end it.
    const pair = await setupPair(tmpRun('protect-retry'), { restore: { bandwidthBytesPerSec: 16 * MiB } });
    await pair.startAgent('beta');
    await pair.startAgent('alpha');
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    await waitFor(() => alpha.status().phase === 'syncing', { timeoutMs: 30_000, what: 'the first copy onto the secondary', intervalMs: 10 });
    // The job starts a moment into syncing (its NBD target opens over TLS first).
    await waitFor(async () => (await alpha.hmp('info block-jobs')).includes('resync0'), { timeoutMs: 10_000, what: 'the copy job' });
    expect(await alpha.hmp('block_job_cancel -f resync0')).toBe('');
    await waitFor(() => alpha.status().phase === 'awaitingRetry', { timeoutMs: 10_000, what: 'the failed attempt to be cleaned up', intervalMs: 10 });
    expect(alpha.status().reason).toMatch(/cannot copy the disks onto the secondary/);
    const s = await pair.waitProtected(undefined, 60_000);
    expect(s.nodes.map((n) => n.coloMode)).toEqual(['primary', 'secondary']);
    const to = alpha.status().transitions.map((t) => t.to);
    expect(to.filter((t) => t === 'syncing')).toHaveLength(2);
    expect(to.indexOf('awaitingRetry')).toBeLessThan(to.lastIndexOf('syncing'));
    // The retry copied the disk again and replicates: a checkpointed write is on the secondary's image.
    const w = await alpha.writePattern(0x5d, 8 * MiB, MiB, true);
    expect(w.ok).toBe(true);
    await pair.stopAgents();
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0x5d, 8 * MiB, MiB)).toBe(true);
  });

  it('a primary qemu that does not come up is launched again and the pair protects', async () => {
    const dir = tmpRun('launch-retry');
    // The first real launch (the one with a monitor) dies at once; probes and later launches are the real qemu.
    const wrapper = join(dir, 'qemu-once-broken');
    writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *-qmp*) [ -e "$0.failed" ] || { touch "$0.failed"; exit 1; } ;; esac\nexec qemu-system-x86_64 "$@"\n`, { mode: 0o755 });
    const pair = await setupPair(dir);
    await pair.startAgent('beta');
    await pair.startAgent('alpha', { qemuBinary: wrapper });
    const s = await pair.waitProtected(undefined, 60_000);
    expect(s.nodes.map((n) => n.coloMode)).toEqual(['primary', 'secondary']);
    const to = pair.agent('alpha')!.controllers()[0]!.status().transitions.map((t) => t.to);
    expect(to.filter((t) => t === 'launching' || t === 'launchFailed')).toEqual(['launching', 'launchFailed', 'launching']);
  });
});

