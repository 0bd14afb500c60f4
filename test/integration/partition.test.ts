import { describe, expect, it } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { setupPair } from '../helpers/pair.js';
import { createNetnsPair } from '../helpers/netns.js';
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

  it('the agents\' process stalls while the primary is cut off from NATS: the stall is no evidence, nobody fences or takes over', async () => {
    const pair = await setupPair(tmpRun('partition-stall'));
    const proxy = await startTcpProxy(pair.natsPort);
    await pair.startAgent('alpha', { natsUrl: proxy.url });
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    const beta = pair.agent('beta')!.controllers()[0]!;
    proxy.cut();
    await waitFor(() => alpha.failover.keeper.unconfirmed && /checkpoints still complete/.test(beta.status().reason), { timeoutMs: 10_000, what: 'alpha unconfirmed, beta judging the silent peer by its checkpoints' });
    // Both agents live in this process: block its event loop well past the takeover veto and the fence bound, as a long GC or a starved CPU would.
    const until = Date.now() + 1_500;
    while (Date.now() < until) { /* stalled */ }
    await new Promise((r) => setTimeout(r, 1_500));
    for (const c of [alpha, beta]) expect(c.status().transitions.filter((t) => ['claiming', 'carryingOn', 'takingOver', 'fencing'].includes(t.to))).toEqual([]);
    const a = await alpha.statusFresh();
    expect(a).toMatchObject({ role: 'primary', coloMode: 'primary' });
    expect(a.checkpoints.count).toBeGreaterThan(before.checkpoints.count);
    proxy.restore();
    await waitFor(() => !alpha.failover.keeper.unconfirmed, { timeoutMs: 10_000, what: 'alpha renewed its lease' });
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

describe('a partition of the primary from NATS and from its secondary (network namespaces)', () => {
  it('the primary fences within its bound, the secondary takes over after it, and the run states never show two active copies', async () => {
    const dir = tmpRun('partition-netns');
    const net = createNetnsPair(dir);
    const pair = await setupPair(dir, { addresses: net.addresses });
    const proxy = await startTcpProxy(pair.natsPort);
    await pair.startAgent('alpha', { natsUrl: proxy.url, qemuBinary: net.qemuBinary('alpha'), relayBinary: net.relayBinary('alpha') });
    await pair.startAgent('beta', { qemuBinary: net.qemuBinary('beta'), relayBinary: net.relayBinary('beta') });
    const before = await pair.waitProtected(undefined, 60_000);
    const alpha = pair.agent('alpha')!.controllers()[0]!;
    const beta = pair.agent('beta')!.controllers()[0]!;
    const samples: Array<{ at: number; a: string; b: string }> = [];
    const timer = setInterval(() => {
      void Promise.all([alpha.statusFresh(), beta.statusFresh()]).then(([a, b]) => samples.push({ at: Date.now(), a: `${a.runState}/${a.coloMode}`, b: `${b.runState}/${b.coloMode}` }));
    }, 50);
    try {
      const cutAt = Date.now();
      proxy.cut();
      net.cut();
      const took = await waitFor(() => {
        const s = beta.status();
        return s.failover?.phase === 'runningAlone' ? s : false;
      }, { timeoutMs: 20_000, what: 'beta to take over' });
      const a = alpha.status();
      expect(a.failover?.phase).toMatch(/fencing|fenced/);
      const fencedAt = a.transitions.find((t) => t.to === 'fencing')!.at;
      const lastCheckpointAt = a.checkpoints.lastAgeMs === null ? cutAt : Date.now() - a.checkpoints.lastAgeMs;
      // The stated bound: the later of the lease's local deadline (at most one TTL after the cut) and
      // 2 x checkpointDelayMs + 100 after the last checkpoint, plus 100 ms for the fence itself.
      const delay = pair.config.vms[0]!.checkpointDelayMs;
      const ttl = pair.config.timings.leaseTtlMs;
      expect(fencedAt - cutAt).toBeLessThanOrEqual(Math.max(ttl, lastCheckpointAt - cutAt + 2 * delay + 100) + 100);
      // The fence came first: the secondary won the lease only after the primary had stopped acting.
      expect(fencedAt).toBeLessThanOrEqual(took.failover!.leaseWonAt!);
      expect(took.epoch).toBe(before.epoch + 1);
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      clearInterval(timer);
    }
    // Never two copies serving: alpha running (in or out of COLO) while beta runs outside COLO.
    const both = samples.filter((x) => x.a.startsWith('running/') && x.b === 'running/none');
    expect(both, JSON.stringify(samples.slice(-20))).toEqual([]);
    expect(samples.length).toBeGreaterThan(10);
  }, 120_000);
});
