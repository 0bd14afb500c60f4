import { execFileSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { runRestore } from '../../cli/restore/run-restore.js';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';
import { imageHasPattern } from '../helpers/pattern.js';

const MiB = 1024 * 1024;

function ctl(pair: TestPair, node: 'alpha' | 'beta') {
  return pair.agent(node)!.controllers()[0]!;
}

describe('restore on real qemu and nats-server', () => {
  it('says so when there is nothing to restore, keeps no bandwidth for later, and a bandwidth change for a running resync applies now', async () => {
    const pair = await setupPair(tmpRun('restore-honest'), { restore: { auto: false } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const nothing = await runRestore(pair.client, pair.config, { vm: 'vm1', bandwidthBytesPerSec: 2 * MiB, timeoutMs: 10_000 });
    expect(nothing).toMatchObject({ protected: true, restored: false, request: null, reason: 'already protected, nothing to restore (the bandwidth limit was not sent)' });

    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'secondary', mode: 'crash' });
    expect(drill.ok, drill.reason).toBe(true);
    // At 1 MiB/s the 64 MiB resync takes about a minute: start it so, then lift the limit while it runs.
    const slow = runRestore(pair.client, pair.config, { vm: 'vm1', bandwidthBytesPerSec: 1 * MiB, timeoutMs: 120_000 });
    await waitFor(async () => (await ctl(pair, 'alpha').statusFresh()).resync?.phase.startsWith('resync') && (await ctl(pair, 'alpha').statusFresh()).resync!.bytesDone > 0, { timeoutMs: 30_000, what: 'the resync running' });
    const started = Date.now();
    const fast = await runRestore(pair.client, pair.config, { vm: 'vm1', bandwidthBytesPerSec: 0, timeoutMs: 60_000 });
    expect(fast.request?.reason).toMatch(/bandwidth limit off applied now/);
    expect(fast).toMatchObject({ protected: true, restored: true });
    const first = await slow;
    expect(first.protected).toBe(true);
    expect(first.request?.reason).toMatch(/bandwidth limit 1048576 B\/s applied now/);
    // Far sooner than the minute the old limit needed.
    expect(Date.now() - started).toBeLessThan(40_000);
  });

  it.each(['primary', 'secondary'] as const)('%s killed -> failover -> restore onto the lost node -> protected again, roles swapped, data intact', async (fail) => {
    const pair = await setupPair(tmpRun(`restore-${fail}`), { restore: { auto: false } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail, mode: 'crash' });
    expect(drill.ok, drill.reason).toBe(true);
    const before = await pair.status();
    expect(before.protected).toBe(false);
    const report = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
    expect(report, report.reason).toMatchObject({ protected: true, survivor: drill.survivor, target: drill.failed, epoch: drill.epochAfter });
    expect(report.resyncMs).toBeGreaterThan(0);
    expect(report.pauseMs).toBeGreaterThan(0);
    const s = await pair.status();
    expect(s.protected).toBe(true);
    const roles = Object.fromEntries(s.nodes.map((n) => [n.node, [n.role, n.coloMode]]));
    expect(roles[drill.survivor]).toEqual(['primary', 'primary']);
    expect(roles[drill.failed]).toEqual(['secondary', 'secondary']);
    // Checkpoints flow again, and a new write replicates to the restored secondary's image.
    await waitFor(async () => (await pair.status()).checkpoints.count >= 2, { timeoutMs: 10_000, what: 'checkpoints after restore' });
    await ctl(pair, drill.survivor as 'alpha' | 'beta').hmp('qemu-io colo-disk0 "write -P 0x5a 8M 1M"');
    await pair.stopAgents();
    expect(imageHasPattern(pair.imagePath(drill.failed as 'alpha' | 'beta', 'vm1'), 0x5a, 8 * MiB, MiB)).toBe(true);
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', pair.imagePath('alpha', 'vm1'), pair.imagePath('beta', 'vm1')]);
  });

  it('thirty failover + restore cycles, both directions, crash and hang mixed: every cycle\'s pattern is on both images right away', async () => {
    const pair = await setupPair(tmpRun('restore-cycles'), { restore: { auto: false } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const patterns: Array<{ byte: number; offset: number; cycle: number }> = [];
    for (let cycle = 0; cycle < 30; cycle++) {
      const fail = cycle % 2 === 0 ? 'primary' : 'secondary';
      const mode = cycle % 3 === 2 ? 'hang' : 'crash';
      const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail, mode });
      expect(drill.ok, `cycle ${cycle} (${fail} ${mode}): ${drill.reason}`).toBe(true);
      expect(drill.epochAfter).toBe(cycle + 2);
      const restore = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
      expect(restore.protected, `cycle ${cycle}: ${restore.reason}`).toBe(true);
      // runDrill wrote its own verified pattern; add one per cycle at a distinct place, covered by a checkpoint.
      const primary = (await pair.status()).nodes.find((n) => n.role === 'primary')!.node as 'alpha' | 'beta';
      const p = { byte: 0x30 + cycle, offset: (16 + cycle) * MiB, cycle };
      const w = await ctl(pair, primary).writePattern(p.byte, p.offset, MiB, true);
      expect(w.ok, w.detail).toBe(true);
      patterns.push(p);
      // Checked now, not only at the end: read from the image files (raw, read-only) while both qemu run.
      for (const n of ['alpha', 'beta'] as const) {
        expect(imageHasPattern(pair.imagePath(n, 'vm1'), p.byte, p.offset, MiB), `cycle ${cycle}: pattern 0x${p.byte.toString(16)} missing on ${n}'s image (primary ${primary}; write: ${w.detail})`).toBe(true);
      }
    }
    await pair.stopAgents();
    for (const p of patterns) {
      for (const n of ['alpha', 'beta'] as const) expect(imageHasPattern(pair.imagePath(n, 'vm1'), p.byte, p.offset, MiB), `cycle ${p.cycle} pattern on ${n} after stop`).toBe(true);
    }
    const out = execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', pair.imagePath('alpha', 'vm1'), pair.imagePath('beta', 'vm1')]).toString();
    expect(out).toMatch(/Images are identical/);
  }, 900_000);

  it('the new secondary killed mid-resync: the restore retries and succeeds, the VM keeps running', async () => {
    // A slow resync (8 MiB/s over 64 MiB) leaves time to kill the new secondary in the middle of it.
    const pair = await setupPair(tmpRun('restore-mid-kill'), { restore: { auto: false, bandwidthBytesPerSec: 8 * MiB, retryBaseMs: 200 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(drill.ok, drill.reason).toBe(true);
    const restoring = runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 90_000 });
    await waitFor(() => {
      const r = ctl(pair, 'beta').status().resync;
      return r?.phase === 'resyncing' && r.bytesDone > 4 * MiB;
    }, { timeoutMs: 30_000, what: 'resync under way' });
    process.kill(pair.qemuPid('alpha', 'vm1')!, 'SIGKILL');
    await waitFor(() => (ctl(pair, 'beta').status().resync?.attempts ?? 0) >= 2, { timeoutMs: 30_000, what: 'a second attempt' });
    const during = await ctl(pair, 'beta').statusFresh();
    expect(during.runState).toBe('running');
    await ctl(pair, 'beta').hmp('qemu-io colo-disk0 "write -P 0x77 0 4k"');
    const report = await restoring;
    expect(report, report.reason).toMatchObject({ protected: true, survivor: 'beta', target: 'alpha' });
    expect(report.attempts).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('the survivor dies mid-resync: the half-synced node does not take over and says why', async () => {
    const pair = await setupPair(tmpRun('restore-survivor-dies'), { restore: { auto: false, bandwidthBytesPerSec: 4 * MiB } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(drill.ok, drill.reason).toBe(true);
    void runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 20_000 }).catch(() => undefined);
    await waitFor(() => ctl(pair, 'beta').status().resync?.phase === 'resyncing', { timeoutMs: 30_000, what: 'resync under way' });
    await pair.agent('beta')!.stop();
    const alpha = await waitFor(() => {
      const s = ctl(pair, 'alpha').status();
      return s.failover?.phase === 'notPromotable' ? s : false;
    }, { timeoutMs: 15_000, what: 'alpha to refuse promotion' });
    expect(alpha.reason).toMatch(/incomplete|not yet in sync/);
    await new Promise((r) => setTimeout(r, 1_000));
    const later = await ctl(pair, 'alpha').statusFresh();
    // Still the half-built secondary waiting for a stream that will not come: never running as primary.
    expect(later.role).toBe('none');
    expect(later.runState).toBe('inmigrate');
    expect(later.transitions.some((t) => t.to === 'takingOver' || t.to === 'claiming')).toBe(false);
  }, 120_000);

  it('an existing image of another size on the lost node is refused, never overwritten', async () => {
    const pair = await setupPair(tmpRun('restore-wrong-size'), { restore: { auto: false, retryBaseMs: 500 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(drill.ok, drill.reason).toBe(true);
    const img = pair.imagePath('alpha', 'vm1');
    rmSync(img);
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', img, String(32 * MiB)]);
    writeFileSync(`${img}.marker`, 'untouched');
    const report = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 8_000 });
    expect(report.protected).toBe(false);
    const alpha = ctl(pair, 'alpha').status();
    expect(alpha.reason).toMatch(/33554432 bytes.*67108864 bytes.*refusing/);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', img]).toString());
    expect(info['virtual-size']).toBe(32 * MiB);
    expect((await ctl(pair, 'beta').statusFresh()).runState).toBe('running');
  }, 60_000);
});
