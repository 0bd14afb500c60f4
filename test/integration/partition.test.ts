import { describe, expect, it } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { setupPair } from '../helpers/pair.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

describe('partitions and NATS outages on real qemu and nats-server', () => {
  it('primary cut off from NATS while COLO runs: its lease is unconfirmed but checkpoints complete, so it keeps serving and nobody fails over', async () => {
    const pair = await setupPair(tmpRun('partition-primary'));
    const proxy = await startTcpProxy(pair.natsPort);
    await pair.startAgent('alpha', { natsUrl: proxy.url });
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    const beta = pair.agent('beta')!.controllers()[0]!;
    proxy.cut();
    await waitFor(() => alpha.failover.keeper.unconfirmed, { timeoutMs: 10_000, what: 'alpha: lease unconfirmed' });
    // Well past the lease TTL (1.5 s) and beta's heartbeat timeout: still one primary, in COLO, checkpointing.
    await new Promise((r) => setTimeout(r, 4_000));
    const a = await alpha.statusFresh();
    expect(a).toMatchObject({ role: 'primary', coloMode: 'primary', natsConnected: false });
    // Running, or inside a checkpoint pause (run state 'colo'); never paused for good.
    expect(['running', 'colo']).toContain(a.runState);
    expect(a.checkpoints.count).toBeGreaterThan(before.checkpoints.count + 5);
    const b = await beta.statusFresh();
    expect(b).toMatchObject({ role: 'secondary', coloMode: 'secondary' });
    expect(b.reason).toMatch(/checkpoints still complete/);
    for (const c of [alpha, beta]) expect(c.status().transitions.some((t) => ['claiming', 'carryingOn', 'takingOver', 'fencing'].includes(t.to))).toBe(false);
    proxy.restore();
    const again = await pair.waitProtected(undefined, 15_000);
    expect(again.epoch).toBe(before.epoch);
    await waitFor(() => !alpha.failover.keeper.unconfirmed, { timeoutMs: 5_000, what: 'alpha renewed its lease at the same epoch' });
    expect(alpha.failover.epoch).toBe(before.epoch);
  });

  it('secondary cut off from NATS: checkpoints prove its VM alive, so COLO goes on and nobody fails over', async () => {
    const pair = await setupPair(tmpRun('partition-secondary'));
    const proxy = await startTcpProxy(pair.natsPort);
    await pair.startAgent('alpha');
    await pair.startAgent('beta', { natsUrl: proxy.url });
    const before = await pair.waitProtected();
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    const beta = pair.agent('beta')!.controllers()[0]!;
    proxy.cut();
    const judged = await waitFor(() => {
      const s = alpha.status();
      return /checkpoints still complete/.test(s.reason) ? s : false;
    }, { timeoutMs: 10_000, what: 'alpha to notice the silent peer and keep COLO' });
    expect(judged.failover?.phase).toBe('watching');
    await new Promise((r) => setTimeout(r, 2_000));
    const a = await alpha.statusFresh();
    expect(a).toMatchObject({ role: 'primary', coloMode: 'primary', epoch: before.epoch });
    expect(a.checkpoints.count).toBeGreaterThan(before.checkpoints.count);
    const b = await beta.statusFresh();
    expect(b).toMatchObject({ natsConnected: false, role: 'secondary', coloMode: 'secondary' });
    for (const c of [alpha, beta]) expect(c.status().transitions.some((t) => ['claiming', 'carryingOn', 'takingOver', 'fencing'].includes(t.to))).toBe(false);
    proxy.restore();
    const again = await pair.waitProtected(undefined, 15_000);
    expect(again.epoch).toBe(before.epoch);
  });

  it('a partition drill (the agent goes silent) leaves exactly one active side', async () => {
    const pair = await setupPair(tmpRun('partition-drill'));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const report = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'partition' });
    expect(report, report.reason).toMatchObject({ ok: true, singleActive: true, dataVerified: true, survivor: 'beta' });
    // Fenced, and once it sees beta act with a higher epoch its paused qemu is stopped: it can never serve again.
    const alpha = await waitFor(async () => {
      const s = await pair.agent('alpha')!.controllers()[0]!.statusFresh();
      return s.qemuPid === null ? s : false;
    }, { timeoutMs: 10_000, what: 'the fenced qemu stopped' });
    expect(alpha.failover?.phase).toBe('fenced');
    expect(alpha.role).toBe('none');
    expect(alpha.protected).toBe(false);
    expect(alpha.runState).toBeNull();
  });

  it('NATS restarted during COLO running: no failover, still protected, same epoch', async () => {
    // A NATS outage longer than the lease TTL would (rightly) fence the primary: give the restart room.
    const pair = await setupPair(tmpRun('nats-restart'), { timings: { leaseTtlMs: 6_000 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    await pair.restartNats(300);
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    await waitFor(() => alpha.status().natsConnected, { timeoutMs: 15_000, what: 'alpha reconnected' });
    await new Promise((r) => setTimeout(r, 2_000));
    const after = await pair.waitProtected(undefined, 15_000);
    expect(after.epoch).toBe(before.epoch);
    expect(after.checkpoints.count).toBeGreaterThan(before.checkpoints.count);
    for (const c of [alpha, pair.agent('beta')!.controllers()[0]!]) {
      expect(c.status().failover?.phase).toBe('watching');
      expect(c.status().transitions.some((t) => ['claiming', 'takingOver', 'carryingOn', 'fencing'].includes(t.to))).toBe(false);
    }
  });
});
