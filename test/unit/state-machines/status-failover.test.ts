import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { nodeStatusSchema, type NodeStatus } from '../../../shared/nats/messages.js';
import type { FailoverContext } from '../../../state-machines/failover.js';
import { toNodeStatus, type CheckpointSnapshotView, type FailoverSnapshotView, type LiveQemu, type NodeExtras } from '../../../state-machines/status.js';
import { audit, primaryTo, secondaryToAwaitingPrimary } from './checkpoint-harness.js';
import { T0, failClaim, flush, lockConflict, natsUnavailable, peerLost, startFailover } from './failover-harness.js';

const NOW = T0 + 10_000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A real checkpoint snapshot in coloRunning (tag protected), its replication proven by an audit of qemu 500 ms ago. */
async function coloRunning(role: 'primary' | 'secondary'): Promise<CheckpointSnapshotView> {
  const s = role === 'primary' ? await primaryTo('coloRunning') : await secondaryToAwaitingPrimary();
  if (role === 'secondary') {
    s.f.awaitColo.last().resolve();
    await flush();
  }
  s.actor.send({ type: 'REPLICATION_AUDITED', audit: audit('replicating', NOW - 500) });
  return s.actor.getSnapshot();
}

function live(mode: LiveQemu['coloMode']): LiveQemu {
  return { qemuPid: 4242, qmpSocket: '/run/colo-ft/vm1/qmp.sock', runState: 'running', coloMode: mode, dataTls: true };
}

function status(cp: CheckpointSnapshotView, fo: FailoverSnapshotView | undefined, mode: LiveQemu['coloMode'], over: Partial<NodeExtras> = {}): NodeStatus {
  const s = toNodeStatus(cp, live(mode), { epoch: 4, transitions: [], failover: fo, ...over }, NOW);
  expect(nodeStatusSchema.parse(s)).toEqual(s);
  return s;
}

/** Real failover snapshots, reached through the machine with fake actors. */
const failover = {
  async watching(role: 'primary' | 'secondary') {
    return startFailover(role).actor.getSnapshot();
  },
  async claiming() {
    const { actor, send } = startFailover('secondary');
    send(peerLost(T0));
    return actor.getSnapshot();
  },
  async tookOver() {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost(T0, 'no heartbeat from alpha for 3012 ms'));
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 40 });
    await flush();
    f.takeOver.last().resolve({ at: T0 + 130, steps: { 'x-colo-lost-heartbeat': 6.4, 'colo-none': 0.9 } });
    await flush();
    return actor.getSnapshot();
  },
  async standingBy() {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost(T0));
    await failClaim(actor, f, lockConflict);
    await flush();
    return actor.getSnapshot();
  },
  async passive(role: 'primary' | 'secondary' = 'secondary') {
    const { actor, f, send } = startFailover(role, 'strict');
    send(peerLost(T0));
    await failClaim(actor, f, natsUnavailable);
    return actor.getSnapshot();
  },
  async natsDown(role: 'primary' | 'secondary' = 'secondary') {
    const { actor, send } = startFailover(role);
    send({ type: 'NATS_DOWN' });
    send(peerLost(T0));
    return actor.getSnapshot();
  },
  async fencing() {
    const { actor, send } = startFailover('primary');
    send({ type: 'LEASE_LOST', reason: 'another node took the lease' });
    return actor.getSnapshot();
  },
  async fenced() {
    const { actor, f, send } = startFailover('primary');
    send({ type: 'LEASE_LOST', reason: 'another node took the lease' });
    f.fenceVm.last().resolve();
    await flush();
    return actor.getSnapshot();
  },
  async down() {
    const { actor, f, send } = startFailover('primary');
    send({ type: 'LOCAL_QEMU_LOST', reason: 'qemu exited with signal SIGKILL', at: T0 });
    f.releaseLease.last().resolve();
    await flush();
    return actor.getSnapshot();
  },
  async failed() {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost(T0));
    f.claimLease.last().resolve({ epoch: 4, at: T0 });
    await flush();
    f.takeOver.last().reject(new Error('not in COLO mode'));
    await flush();
    return actor.getSnapshot();
  },
};

describe('toNodeStatus with the failover machine', () => {
  it('while the failover machine only watches, the checkpoint machine speaks and protection holds', async () => {
    const cp = await coloRunning('secondary');
    const s = status(cp, await failover.watching('secondary'), 'secondary');
    expect(s).toMatchObject({ role: 'secondary', phase: 'coloRunning', protected: true, degraded: false, reason: cp.context.reason });
    expect(s.replication).toMatchObject({ state: 'replicating', checkedAgoMs: 500 });
    expect(s.failover).toEqual({ phase: 'watching', trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null, takeoverSteps: null });
  });

  it('a checkpoint machine in coloRunning not yet audited is not protected', async () => {
    const { actor } = await primaryTo('coloRunning');
    const s = status(actor.getSnapshot(), await failover.watching('primary'), 'primary');
    expect(s).toMatchObject({ phase: 'coloRunning', protected: false, replication: null, disks: [] });
  });

  it('without a failover snapshot there is no failover field', async () => {
    const s = status(await coloRunning('primary'), undefined, 'primary');
    expect(s.failover).toBeNull();
    expect(s.protected).toBe(true);
  });

  it('after a takeover: role primary, phase runningAlone, not protected, the timeline copied', async () => {
    const fo = await failover.tookOver();
    expect(fo.value).toBe('runningAlone');
    // the checkpoint snapshot still says protected secondary: the failover machine has acted, so it wins
    const s = status(await coloRunning('secondary'), fo, 'secondary');
    expect(s).toMatchObject({ role: 'primary', phase: 'runningAlone', protected: false, degraded: true, epoch: 4 });
    expect(s.reason).toBe(fo.context.reason);
    expect(s.reason).toContain('epoch 4');
    expect(s.failover).toEqual({
      phase: 'runningAlone',
      trigger: 'no heartbeat from alpha for 3012 ms',
      detectedAt: T0,
      leaseWonAt: T0 + 40,
      takeoverAt: T0 + 130,
      takeoverSteps: { 'x-colo-lost-heartbeat': 6.4, 'colo-none': 0.9 },
    });
  });

  it('while claiming: the failover phase and reason, not protected, the role not yet changed', async () => {
    const fo = await failover.claiming();
    const s = status(await coloRunning('secondary'), fo, 'secondary');
    expect(s).toMatchObject({ role: 'secondary', phase: 'claiming', protected: false, degraded: true, reason: fo.context.reason });
    expect(s.failover).toMatchObject({ phase: 'claiming', detectedAt: T0, leaseWonAt: null });
  });

  it.each([
    ['fencing', failover.fencing],
    ['fenced', failover.fenced],
    ['down', failover.down],
    ['failed', failover.failed],
  ] as const)('%s -> role none, not protected, the failover phase', async (phase, make) => {
    const fo = await make();
    expect(fo.value).toBe(phase);
    const s = status(await coloRunning('primary'), fo, 'primary');
    expect(s).toMatchObject({ role: 'none', phase, protected: false, degraded: true, reason: fo.context.reason });
  });

  it('role none when fenced even if the agent passes a role', async () => {
    const s = status(await coloRunning('primary'), await failover.fenced(), 'primary', { role: 'primary' });
    expect(s.role).toBe('none');
  });

  it.each([
    ['passive', () => failover.passive('secondary'), /^strict policy: cannot win the lease/],
    ['NATS down', () => failover.natsDown('secondary'), /NATS unreachable/],
    ['standingBy', failover.standingBy, /peer still holds the lease/],
  ] as const)('%s: the reason comes from the failover machine, the phase stays the checkpoint one', async (_name, make, reason) => {
    const fo = await make();
    const cp = await coloRunning('secondary');
    const s = status(cp, fo, 'secondary', { natsConnected: fo.context.natsUp });
    expect(s.phase).toBe('coloRunning');
    expect(s.role).toBe('secondary');
    expect(s.reason).toMatch(reason);
    expect(s.reason).not.toBe(cp.context.reason);
    expect(s.failover?.phase).toBe(phaseName(fo));
  });

  it('NATS down shows natsConnected false as the agent reports it', async () => {
    const s = status(await coloRunning('primary'), await failover.natsDown('primary'), 'primary', { natsConnected: false });
    expect(s.natsConnected).toBe(false);
    expect(s.phase).toBe('coloRunning');
  });

  it('accepts a plain object matching FailoverSnapshotView', async () => {
    const ctx: FailoverContext = {
      vm: 'vm1',
      node: 'alpha',
      role: 'primary',
      policy: 'relaxed',
      epoch: 9,
      standbyRetryMs: 1_000,
      actionTimeoutMs: 30_000,
      promotable: true,
      reason: 'secondary lost (x): running alone, not protected',
      natsUp: true,
      peerAlive: false,
      peerSilent: false,
      trigger: 'x',
      detectedAt: T0,
      leaseWonAt: null,
      takeoverAt: T0 + 5,
      takeoverSteps: { running: 0.4 },
      unreplicatedSinceSync: false,
    };
    const tags = ['active', 'alone'];
    const fo: FailoverSnapshotView = { value: 'runningAlone', context: ctx, hasTag: (t) => tags.includes(t) };
    const s = status(await coloRunning('primary'), fo, 'primary', { epoch: 9 });
    expect(s).toMatchObject({ role: 'primary', phase: 'runningAlone', protected: false, epoch: 9, reason: ctx.reason });
    expect(s.failover).toEqual({ phase: 'runningAlone', trigger: 'x', detectedAt: T0, leaseWonAt: null, takeoverAt: T0 + 5, takeoverSteps: { running: 0.4 } });
  });
});

function phaseName(fo: FailoverSnapshotView): string {
  return typeof fo.value === 'string' ? fo.value : JSON.stringify(fo.value);
}
