import { describe, expect, it } from 'vitest';
import { imageHasPattern } from '../helpers/pattern.js';
import { kvmForTests, setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;

// `auto` uses KVM when usable; `tcg` forces the no-KVM path (-machine none) on every machine.
describe.each(['auto', 'tcg'] as const)('protect a VM on real qemu (accelerator %s)', (accelerator) => {
  it('two agents reach COLO running, checkpoints advance, and primary writes reach the secondary image', async () => {
    const pair = await setupPair(tmpRun(`protect-${accelerator}`), { accelerator });
    await pair.startAgent('beta');
    await pair.startAgent('alpha');
    const protectedStatus = await pair.waitProtected();

    const [alpha, beta] = protectedStatus.nodes;
    expect(alpha).toMatchObject({ node: 'alpha', role: 'primary', coloMode: 'primary', reachable: true });
    expect(beta).toMatchObject({ node: 'beta', role: 'secondary', coloMode: 'secondary', reachable: true });
    expect(alpha!.qemuPid).toBe(pair.qemuPid('alpha', 'vm1'));
    expect(beta!.qemuPid).toBe(pair.qemuPid('beta', 'vm1'));
    expect(alpha!.qmpSocket).toMatch(/alpha\/run\/vm1\/qmp\.sock$/);
    const expectTcg = accelerator === 'tcg' || !kvmForTests();
    const cmdline = (await import('node:fs')).readFileSync(`/proc/${alpha!.qemuPid}/cmdline`, 'utf8');
    expect(cmdline.includes(expectTcg ? 'none,accel=tcg' : 'accel=kvm')).toBe(true);

    // Checkpoints advance at the configured delay (200 ms), each with a measured pause.
    const later = await waitFor(async () => {
      const s = await pair.status();
      return s.checkpoints.count >= protectedStatus.checkpoints.count + 3 ? s : false;
    }, { timeoutMs: 15_000, what: 'three more checkpoints' });
    expect(later.protected).toBe(true);
    expect(later.checkpoints.lastPauseMs).toBeGreaterThan(0);
    expect(later.checkpoints.lastAgeMs).not.toBeNull();
    // Over the last minute, from qemu's STOP/RESUME times: percentiles that bracket the pauses carried, a share of wall time.
    const c = later.checkpoints;
    const carried = c.recentPauses.map((p) => p.ms);
    expect(carried.length).toBeGreaterThanOrEqual(3);
    expect(c.pauseMsP50).toBeGreaterThanOrEqual(Math.min(...carried));
    expect(c.pauseMsP99).toBeGreaterThanOrEqual(c.pauseMsP50!);
    expect(c.pausedFraction).toBeGreaterThan(0);
    expect(c.pausedFraction).toBeLessThan(1);

    // A write through the primary's quorum drive reaches the secondary's parent image over NBD.
    const primary = pair.agent('alpha')!.controllers()[0]!;
    await primary.hmp('qemu-io colo-disk0 "write -P 0xab 1M 1M"');
    const before = (await pair.status()).checkpoints.count;
    await waitFor(async () => (await pair.status()).checkpoints.count > before, { timeoutMs: 10_000, what: 'a checkpoint after the write' });
    await pair.stopAgents();
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0xab, MiB, MiB)).toBe(true);
    expect(imageHasPattern(pair.imagePath('alpha', 'vm1'), 0xab, MiB, MiB)).toBe(true);
    // Untouched space stays untouched: the check above is not vacuous.
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0xab, 0, MiB)).toBe(false);
  });
});
