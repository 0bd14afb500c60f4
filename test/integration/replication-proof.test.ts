import { execFileSync, spawnSync } from 'node:child_process';
import { openSync, writeSync, closeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { runRestore } from '../../cli/restore/run-restore.js';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { imageHasPattern } from '../helpers/pattern.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;
type Node = 'alpha' | 'beta';

function ctl(pair: TestPair, node: Node) {
  return pair.agent(node)!.controllers()[0]!;
}
/**
 * Restore, and write a pattern through the survivor: either the instant its
 * restore machine says "restored", or once the CLI's restore has returned
 * (as a script would), leaving no slack for a race to hide in.
 */
async function restoreThenWrite(pair: TestPair, survivor: Node, byte: number, offset: number, atOnce: boolean) {
  const restoring = runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
  if (!atOnce) await restoring;
  let restored = false;
  void restoring.finally(() => (restored = true));
  while (!restored && ctl(pair, survivor).status().resync?.phase !== 'restored') await new Promise((r) => setImmediate(r));
  const w = await ctl(pair, survivor).writePattern(byte, offset, MiB, true);
  return { w, report: await restoring };
}

describe('protected means replicated, proven from qemu', () => {
  it('takeover by a former secondary, restore, secondary lost, carry-on, restore, write, primary fails: the write is on the survivor (4 rounds)', async () => {
    const pair = await setupPair(tmpRun('replication-history'), { restore: { auto: false } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    for (let round = 0; round < 4; round++) {
      const byte = 0x60 + round;
      const offset = (20 + round) * MiB;
      // 1. The primary fails: the secondary, a secondary until now, takes over; the lost node is restored as its secondary.
      const d1 = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
      expect(d1.ok, `round ${round}: ${d1.reason}`).toBe(true);
      const r1 = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
      expect(r1.protected, `round ${round}: ${r1.reason}`).toBe(true);
      // 2. Its secondary is lost: the former secondary carries on alone, then the lost node is restored again.
      const d2 = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'secondary', mode: 'crash' });
      expect(d2.ok, `round ${round}: ${d2.reason}`).toBe(true);
      const survivor = d2.survivor as Node;
      const secondary = d2.failed as Node;
      const { w, report } = await restoreThenWrite(pair, survivor, byte, offset, round % 2 === 0);
      expect(report.protected, `round ${round}: ${report.reason}`).toBe(true);
      expect(w.ok, w.detail).toBe(true);
      const status = await pair.status();
      expect(status.nodes.every((n) => n.replication?.state === 'replicating'), JSON.stringify(status.nodes.map((n) => n.replication))).toBe(true);
      // The write, covered by a checkpoint, is in the secondary's image now (read from the file, not from any agent).
      expect(imageHasPattern(pair.imagePath(secondary, 'vm1'), byte, offset, MiB), `round ${round}: pattern 0x${byte.toString(16)} at ${offset} on ${secondary}'s image (write: ${w.detail})`).toBe(true);
      // 3. The primary fails: the write must be on the survivor.
      process.kill(pair.qemuPid(survivor, 'vm1')!, 'SIGKILL');
      await waitFor(() => ctl(pair, secondary).status().failover?.phase === 'runningAlone', { timeoutMs: 15_000, what: `${secondary} to take over` });
      const r3 = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
      expect(r3.protected, `round ${round}: ${r3.reason}`).toBe(true);
      expect(imageHasPattern(pair.imagePath(secondary, 'vm1'), byte, offset, MiB), `round ${round}: pattern on the survivor ${secondary}`).toBe(true);
    }
    await pair.stopAgents();
    for (let round = 0; round < 4; round++) {
      for (const n of ['alpha', 'beta'] as const) expect(imageHasPattern(pair.imagePath(n, 'vm1'), 0x60 + round, (20 + round) * MiB, MiB), `round ${round} on ${n}`).toBe(true);
    }
  }, 300_000);

  it('a replication child removed behind the agent: not protected within the audit interval, the reason names the disk, the secondary is not promoted', async () => {
    const pair = await setupPair(tmpRun('replication-removed'), { restore: { auto: false, repair: false }, timings: { auditIntervalMs: 500 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const vm = ctl(pair, 'alpha').requireVm();
    await vm.qmp.execute('x-blockdev-change', { parent: 'colo-disk0', child: 'children.1' }, { timeoutMs: 2_000 });
    const t0 = Date.now();
    const s = await waitFor(async () => {
      const v = await pair.status();
      return v.protected ? false : v;
    }, { timeoutMs: 5_000, what: 'not protected' });
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeLessThan(500 + 1_000);
    const alpha = s.nodes.find((n) => n.node === 'alpha')!;
    expect(alpha.replication?.state).toBe('degraded');
    expect(alpha.disks[0]?.replication.state).toBe('degraded');
    expect(alpha.disks[0]?.replication.reason).toMatch(/disk 0: .*no replication child/);
    expect(alpha.phase).toBe('unreplicated');
    expect(s.reason).toMatch(/disk 0/);
    // The secondary learnt from the primary's heartbeat that its copy may miss writes: losing the primary now must not promote it.
    await waitFor(() => ctl(pair, 'beta').failover.actor.getSnapshot().context.unreplicatedSinceSync, { timeoutMs: 3_000, what: 'beta told it is not promotable' });
    process.kill(pair.qemuPid('alpha', 'vm1')!, 'SIGKILL');
    const beta = await waitFor(() => {
      const st = ctl(pair, 'beta').status();
      return st.failover?.phase === 'notPromotable' ? st : false;
    }, { timeoutMs: 10_000, what: 'beta refusing promotion' });
    expect(beta.reason).toMatch(/incomplete .*not replicating since its last resync/);
    expect(beta.transitions.some((t) => t.to === 'takingOver')).toBe(false);
  }, 120_000);

  it('a replication child re-linked behind the agent looks right in the block graph but drops writes: qemu\'s QUORUM_REPORT_BAD makes the disk degraded', async () => {
    const pair = await setupPair(tmpRun('replication-relinked'), { restore: { auto: false, repair: false }, timings: { auditIntervalMs: 500 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const vm = ctl(pair, 'alpha').requireVm();
    const call = { timeoutMs: 2_000 };
    const port = pair.config.vms[0]!.disks[0]!.coloParams!.port;
    // The same child again, opened after COLO started replication: qemu never starts it, so it silently drops every write.
    await vm.qmp.execute('x-blockdev-change', { parent: 'colo-disk0', child: 'children.1' }, call);
    await vm.qmp.hmp('drive_del replication0', call);
    expect((await vm.qmp.hmp(`drive_add -n buddy driver=replication,mode=primary,file.driver=nbd,file.host=127.0.0.1,file.port=${port},file.export=vm1-d0,file.tls-creds=colo-tls-client,file.tls-hostname=beta,file.node-name=replnbd0,node-name=replication0`, call)).trim()).toBe('');
    await vm.qmp.execute('x-blockdev-change', { parent: 'colo-disk0', node: 'replication0' }, call);
    // Structurally this is a healthy pair again.
    await new Promise((r) => setTimeout(r, 1_200));
    expect((await pair.status()).protected).toBe(true);
    const w = await ctl(pair, 'alpha').writePattern(0x3c, 30 * MiB, MiB, true);
    expect(w.ok, w.detail).toBe(true);
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0x3c, 30 * MiB, MiB), 'the write really is missing on the secondary').toBe(false);
    const s = await waitFor(async () => {
      const v = await pair.status();
      return v.protected ? false : v;
    }, { timeoutMs: 3_000, what: 'not protected after the dropped write' });
    const alpha = s.nodes.find((n) => n.node === 'alpha')!;
    expect(alpha.disks[0]?.replication).toMatchObject({ state: 'degraded' });
    expect(alpha.disks[0]?.replication.reason).toMatch(/disk 0: a write did not reach replication0/);
  }, 120_000);

  it('repair: with the peer healthy and the lease held, the primary drops the unreplicated secondary and a resync brings protection back', async () => {
    const pair = await setupPair(tmpRun('replication-repair'), { restore: { auto: true }, timings: { auditIntervalMs: 500 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    await ctl(pair, 'alpha').requireVm().qmp.execute('x-blockdev-change', { parent: 'colo-disk0', child: 'children.1' }, { timeoutMs: 2_000 });
    await waitFor(async () => !(await pair.status()).protected, { timeoutMs: 5_000, what: 'degraded' });
    const after = await waitFor(async () => {
      const v = await pair.status();
      return v.protected && ctl(pair, 'alpha').status().transitions.some((t) => t.to === 'carryingOn') ? v : false;
    }, { timeoutMs: 60_000, what: 'protected again after the repair' });
    expect(after.epoch).toBe(before.epoch);
    expect(after.nodes.find((n) => n.node === 'alpha')!.role).toBe('primary');
    expect(after.nodes.every((n) => n.replication?.state === 'replicating')).toBe(true);
    const w = await ctl(pair, 'alpha').writePattern(0x4e, 12 * MiB, MiB, true);
    expect(w.ok, w.detail).toBe(true);
    await pair.stopAgents();
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0x4e, 12 * MiB, MiB)).toBe(true);
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', pair.imagePath('alpha', 'vm1'), pair.imagePath('beta', 'vm1')]);
  }, 120_000);

  it.each([false, true])('first protection from a secondary image with other content (assumeIdentical %s)', async (assumeIdentical) => {
    const pair = await setupPair(tmpRun('first-sync'), { restore: { auto: false }, vmExtra: { assumeIdentical } });
    const fd = openSync(pair.imagePath('alpha', 'vm1'), 'r+');
    writeSync(fd, Buffer.alloc(MiB, 0xaa), 0, MiB, 4 * MiB);
    closeSync(fd);
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const cp = ctl(pair, 'alpha').status().transitions.map((t) => t.to);
    await pair.stopAgents();
    const compare = spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', pair.imagePath('alpha', 'vm1'), pair.imagePath('beta', 'vm1')], { encoding: 'utf8' });
    if (assumeIdentical) {
      // The operator vouched for a copy that was not there: nothing was copied (what the flag means), and it shows.
      expect(cp).not.toContain('syncing');
      expect(compare.stdout).toMatch(/Content mismatch at offset 4194304/);
    } else {
      expect(cp).toContain('syncing');
      expect(compare.stdout).toMatch(/Images are identical/);
      expect(compare.status).toBe(0);
    }
  }, 120_000);
});
