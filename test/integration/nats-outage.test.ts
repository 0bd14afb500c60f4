import { describe, expect, it } from 'vitest';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';
import { imageHasPattern } from '../helpers/pattern.js';

type Node = 'alpha' | 'beta';
const ctl = (pair: TestPair, node: Node) => pair.agent(node)!.controllers()[0]!;
const ACTING = ['claiming', 'takingOver', 'carryingOn', 'fencing', 'fenced', 'releasing'];

/** Sample both qemu's run state and COLO mode through the agents every 50 ms (the agents read qemu, not NATS). */
function sampleRunStates(pair: TestPair) {
  const samples: Array<{ at: number; alpha: string | null; beta: string | null }> = [];
  const timer = setInterval(() => {
    void Promise.all([ctl(pair, 'alpha').statusFresh(), ctl(pair, 'beta').statusFresh()]).then(([a, b]) =>
      samples.push({ at: Date.now(), alpha: `${a.runState}/${a.coloMode}`, beta: `${b.runState}/${b.coloMode}` }),
    );
  }, 50);
  return { samples, stop: () => clearInterval(timer) };
}

describe('a NATS outage is not a failure (default timings)', () => {
  it.each([1_000, 3_000, 10_000])('nats-server killed -9 for %i ms during COLO running: no fence, no failover, checkpoints go on, protected again at the same epoch', async (downMs) => {
    const pair = await setupPair(tmpRun(`nats-outage-${downMs}`));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const sampler = sampleRunStates(pair);
    const countBefore = ctl(pair, 'alpha').status().checkpoints.count;
    const killing = pair.killNats(downMs);
    // While NATS is down, COLO keeps checkpointing and the primary keeps running.
    await new Promise((r) => setTimeout(r, Math.min(downMs, 3_000) - 200));
    const during = ctl(pair, 'alpha').status();
    expect(during.natsConnected).toBe(false);
    expect(during.checkpoints.count).toBeGreaterThan(countBefore);
    await killing;
    const back = Date.now();
    const after = await pair.waitProtected(undefined, 15_000);
    const protectedAgainMs = Date.now() - back;
    sampler.stop();
    expect(after.epoch).toBe(before.epoch);
    expect(protectedAgainMs, 'protected again soon after NATS returned').toBeLessThan(3_000);
    for (const n of ['alpha', 'beta'] as const) {
      const s = ctl(pair, n).status();
      expect(s.failover?.phase, `${n}: ${s.reason}`).toBe('watching');
      expect(s.transitions.filter((t) => ACTING.includes(t.to)), n).toEqual([]);
    }
    // The next renewal (every TTL/4) compare-and-sets the record alpha last wrote: the same epoch, no claim.
    await waitFor(() => !ctl(pair, 'alpha').failover.keeper.unconfirmed, { timeoutMs: 5_000, what: 'alpha renewed its lease' });
    expect(ctl(pair, 'alpha').failover.epoch).toBe(before.epoch);
    // Never stopped for longer than a checkpoint pause, never two primaries outside COLO.
    expect(sampler.samples.length).toBeGreaterThan(downMs / 100);
    expect(sampler.samples.filter((x) => x.alpha?.endsWith('/none')), JSON.stringify(sampler.samples.slice(-5))).toEqual([]);
    expect(sampler.samples.filter((x) => x.beta?.endsWith('/none'))).toEqual([]);
  }, 90_000);

  it('NATS down and checkpoints stop (secondary qemu killed): the primary fences at once under strict policy; the VM waits for NATS', async () => {
    const pair = await setupPair(tmpRun('nats-outage-secondary-lost'));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const killing = pair.killNats(4_000);
    await waitFor(() => !ctl(pair, 'alpha').status().natsConnected, { timeoutMs: 5_000, what: 'alpha sees NATS down' });
    await waitFor(() => ctl(pair, 'alpha').failover.keeper.unconfirmed, { timeoutMs: 5_000, what: 'lease unconfirmed while checkpoints flow' });
    process.kill(pair.qemuPid('beta', 'vm1')!, 'SIGKILL');
    const alpha = await waitFor(() => {
      const s = ctl(pair, 'alpha').status();
      return s.failover?.phase === 'fenced' ? s : false;
    }, { timeoutMs: 5_000, what: 'alpha fenced' });
    expect(alpha.role).toBe('none');
    expect(alpha.protected).toBe(false);
    const st = await ctl(pair, 'alpha').statusFresh();
    expect(st.runState).not.toBe('running');
    await killing;
  }, 60_000);

  it('primary qemu killed while NATS is down (strict): the secondary waits, passive, without the lease; once NATS is back it takes over with the next epoch and the checkpointed write', async () => {
    const pair = await setupPair(tmpRun('nats-outage-primary-lost'));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const w = await ctl(pair, 'alpha').writePattern(0x5d, 6 * 1024 * 1024, 1024 * 1024, true);
    expect(w.ok, w.detail).toBe(true);
    const killing = pair.killNats(4_000);
    await waitFor(() => !ctl(pair, 'beta').status().natsConnected, { timeoutMs: 5_000, what: 'beta sees NATS down' });
    process.kill(pair.qemuPid('alpha', 'vm1')!, 'SIGKILL');
    const waiting = await waitFor(() => {
      const s = ctl(pair, 'beta').status();
      return s.failover?.phase === 'passive' ? s : false;
    }, { timeoutMs: 5_000, what: 'beta passive without the lease' });
    expect(waiting.reason).toMatch(/strict policy: cannot win the lease/);
    expect(waiting.epoch).toBe(before.epoch);
    await killing;
    const took = await waitFor(() => {
      const s = ctl(pair, 'beta').status();
      return s.failover?.phase === 'runningAlone' ? s : false;
    }, { timeoutMs: 15_000, what: 'beta to take over once NATS is back' });
    expect(took.epoch).toBe(before.epoch + 1);
    expect(took.role).toBe('primary');
    const r = await ctl(pair, 'beta').hmp('info status');
    expect(r).toMatch(/running/);
    await pair.stopAgents();
    expect(imageHasPattern(pair.imagePath('beta', 'vm1'), 0x5d, 6 * 1024 * 1024, 1024 * 1024)).toBe(true);
  }, 60_000);

  it('primary qemu killed while NATS is down (relaxed): the secondary, whose COLO stream the dead primary\'s kernel closed, takes over without the lease, with a WARNING', async () => {
    const pair = await setupPair(tmpRun('nats-outage-relaxed'), { failover: { policy: 'relaxed' } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const killing = pair.killNats(6_000);
    await waitFor(() => !ctl(pair, 'beta').status().natsConnected, { timeoutMs: 5_000, what: 'beta sees NATS down' });
    process.kill(pair.qemuPid('alpha', 'vm1')!, 'SIGKILL');
    const took = await waitFor(() => {
      const s = ctl(pair, 'beta').status();
      return s.failover?.phase === 'runningAlone' ? s : false;
    }, { timeoutMs: 5_000, what: 'beta to take over while NATS is still down' });
    expect(took.natsConnected).toBe(false);
    expect(took.transitions.map((t) => t.reason).join(' | ')).toMatch(/WARNING relaxed policy/);
    expect(took.role).toBe('primary');
    expect(took.epoch).toBe(before.epoch);
    await killing;
  }, 60_000);
});
