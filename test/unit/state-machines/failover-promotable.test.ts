import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FailoverEvent, FailoverInput, FailoverPolicy, FailoverRole } from '../../../state-machines/failover.js';
import {
  STANDBY_RETRY_MS,
  T0,
  advance,
  failClaim,
  failoverInput,
  flush,
  lockConflict,
  natsUnavailable,
  peerLost,
  startFailoverWith,
  reasonOf,
  stateOf,
  tagsOf,
  type FailoverActor,
} from './failover-harness.js';

const ACTION_TIMEOUT_MS = 30_000;

/** Like the harness's startFailover, but with any input field overridable (promotable above all). */
function start(role: FailoverRole, overrides: Partial<FailoverInput> = {}, policy: FailoverPolicy = 'strict') {
  return startFailoverWith({ ...failoverInput(role, policy), actionTimeoutMs: ACTION_TIMEOUT_MS, ...overrides });
}

const ctxOf = (a: FailoverActor) => a.getSnapshot().context;
const coloFailed = (at = T0): FailoverEvent => ({ type: 'LOCAL_COLO_FAILED', reason: 'colo-compare reported a checkpoint error', at });
const qemuLost = (at = T0): FailoverEvent => ({ type: 'LOCAL_QEMU_LOST', reason: 'qemu exited with signal 9', at });
const leaseLost = (reason = 'revision moved to epoch 9'): FailoverEvent => ({ type: 'LEASE_LOST', reason });

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('failover: a secondary whose disk is not in sync never takes over', () => {
  it('PEER_LOST -> notPromotable (tag down), reason says the disk is incomplete, no claim', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send(peerLost(T0, 'no heartbeat from alpha for 3012 ms'));
    await flush();
    expect(stateOf(actor)).toBe('notPromotable');
    expect(tagsOf(actor)).toEqual(['down']);
    expect(reasonOf(actor)).toBe(
      "peer lost (no heartbeat from alpha for 3012 ms) but this node's disk is incomplete (not yet in sync): not taking over",
    );
    expect(reasonOf(actor)).toMatch(/incomplete/);
    expect(ctxOf(actor)).toMatchObject({ trigger: 'no heartbeat from alpha for 3012 ms', detectedAt: T0, peerAlive: false, role: 'secondary' });
    await advance(STANDBY_RETRY_MS * 10 + ACTION_TIMEOUT_MS);
    expect(stateOf(actor)).toBe('notPromotable');
    expect(rounds()).toBe(0);
    expect(f.takeOver.calls).toHaveLength(0);
  });

  it('LOCAL_COLO_FAILED -> notPromotable, reason says the disk was not in sync, no claim', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send(coloFailed(T0 + 7));
    await flush();
    expect(stateOf(actor)).toBe('notPromotable');
    expect(tagsOf(actor)).toEqual(['down']);
    expect(reasonOf(actor)).toBe(
      "COLO failed (colo-compare reported a checkpoint error) but this node's disk is incomplete (not yet in sync): not taking over",
    );
    expect(reasonOf(actor)).toMatch(/disk is incomplete \(not yet in sync\): not taking over/);
    expect(ctxOf(actor)).toMatchObject({ trigger: 'colo-compare reported a checkpoint error', detectedAt: T0 + 7 });
    await advance(STANDBY_RETRY_MS * 10);
    expect(rounds()).toBe(0);
  });

  it('notPromotable ignores further peer loss, COLO failures and NATS churn: still no claim', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send(peerLost());
    send(peerLost(T0 + 1, 'again'));
    send(coloFailed(T0 + 2));
    send({ type: 'NATS_DOWN' });
    send({ type: 'NATS_UP' });
    await advance(STANDBY_RETRY_MS * 3);
    expect(stateOf(actor)).toBe('notPromotable');
    expect(rounds()).toBe(0);
  });

  it('PEER_BACK in notPromotable -> watching with the peer alive', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send(peerLost());
    expect(stateOf(actor)).toBe('notPromotable');
    send({ type: 'PEER_BACK' });
    expect(stateOf(actor)).toBe('watching');
    expect(tagsOf(actor)).toEqual(['steady', 'watching']);
    expect(reasonOf(actor)).toBe('peer is back: watching');
    expect(ctxOf(actor).peerAlive).toBe(true);
    // Still not promotable: a second loss lands in notPromotable again.
    send(peerLost(T0 + 100));
    expect(stateOf(actor)).toBe('notPromotable');
    expect(rounds()).toBe(0);
  });

  it('PROMOTABLE {value:true} then PEER_LOST -> claiming', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send({ type: 'PROMOTABLE', value: true });
    expect(stateOf(actor)).toBe('watching');
    expect(ctxOf(actor).promotable).toBe(true);
    send(peerLost());
    expect(stateOf(actor)).toBe('claiming');
    expect(tagsOf(actor)).toEqual(['failingOver']);
    expect(rounds()).toBe(1);
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
  });

  it('PROMOTABLE {value:true} then LOCAL_COLO_FAILED -> claiming', () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: false });
    send({ type: 'PROMOTABLE', value: true });
    send(coloFailed());
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(1);
  });

  it('PROMOTABLE {value:false} makes a promotable secondary refuse again', () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: true });
    send({ type: 'PROMOTABLE', value: false });
    send(peerLost());
    expect(stateOf(actor)).toBe('notPromotable');
    expect(rounds()).toBe(0);
  });

  it('NATS down still wins over notPromotable: PEER_LOST is not judged at all', () => {
    const { actor, send } = start('secondary', { promotable: false });
    send({ type: 'NATS_DOWN' });
    send(peerLost());
    expect(stateOf(actor)).toBe('watching');
    expect(reasonOf(actor)).toBe('NATS unreachable: not judging the peer without it');
  });
});

describe('failover: an audit that found replication broken', () => {
  const unverified: FailoverEvent = { type: 'REPLICATION_UNVERIFIED', reason: 'disk 0: the quorum colo-disk0 has no replication child' };

  it('starts with unreplicatedSinceSync false', () => {
    const { actor } = start('secondary');
    expect(ctxOf(actor)).toMatchObject({ unreplicatedSinceSync: false, promotable: true });
  });

  it('REPLICATION_UNVERIFIED makes a promotable secondary refuse, and the reason says an audit found it', async () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: true });
    send(unverified);
    expect(stateOf(actor)).toBe('watching');
    expect(ctxOf(actor)).toMatchObject({ promotable: false, unreplicatedSinceSync: true });
    send(peerLost(T0, 'no heartbeat from alpha for 3012 ms'));
    await flush();
    expect(stateOf(actor)).toBe('notPromotable');
    expect(reasonOf(actor)).toBe(
      "peer lost (no heartbeat from alpha for 3012 ms) but this node's disk is incomplete (an audit found a disk not replicating since its last resync): not taking over",
    );
    expect(rounds()).toBe(0);
  });

  it('LOCAL_COLO_FAILED after REPLICATION_UNVERIFIED names the audit too', () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: true });
    send(unverified);
    send(coloFailed());
    expect(stateOf(actor)).toBe('notPromotable');
    expect(reasonOf(actor)).toBe(
      "COLO failed (colo-compare reported a checkpoint error) but this node's disk is incomplete (an audit found a disk not replicating since its last resync): not taking over",
    );
    expect(rounds()).toBe(0);
  });

  it('is sticky: a later PROMOTABLE {value:true} does not make the secondary promotable again', () => {
    const { actor, f, send, rounds } = start('secondary', { promotable: true });
    send(unverified);
    send({ type: 'PROMOTABLE', value: true });
    expect(ctxOf(actor)).toMatchObject({ promotable: false, unreplicatedSinceSync: true });
    send(peerLost());
    expect(stateOf(actor)).toBe('notPromotable');
    expect(rounds()).toBe(0);
  });

  it('a primary stays promotable on REPLICATION_UNVERIFIED and still claims', () => {
    const { actor, f, send, rounds } = start('primary');
    send(unverified);
    expect(ctxOf(actor)).toMatchObject({ promotable: true, unreplicatedSinceSync: true });
    send(peerLost());
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(1);
  });

  it('REPLICATION_BROKEN: a watching primary drops the secondary (carryingOn) under its epoch, without a claim', async () => {
    const { actor, f, send, rounds } = start('primary');
    send({ type: 'REPLICATION_BROKEN', reason: 'disk 0: replication child writes to 10.0.0.9:9101/vm1-d0', at: T0 + 5 });
    expect(stateOf(actor)).toBe('carryingOn');
    expect(tagsOf(actor)).toEqual(['acted', 'failingOver']);
    expect(reasonOf(actor)).toBe(
      'replication broken (disk 0: replication child writes to 10.0.0.9:9101/vm1-d0): dropping the secondary so a resync can repair it',
    );
    expect(ctxOf(actor)).toMatchObject({ trigger: 'disk 0: replication child writes to 10.0.0.9:9101/vm1-d0', detectedAt: T0 + 5, leaseWonAt: null });
    expect(rounds()).toBe(0);
    expect(f.carryOnAlone.last().input).toEqual({ vm: 'vm1', epoch: 3 });
    f.carryOnAlone.last().resolve({ at: T0 + 20, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('runningAlone');
    expect(ctxOf(actor).takeoverAt).toBe(T0 + 20);
  });

  it('REPLICATION_BROKEN is ignored by a secondary', () => {
    const { actor, f, send, rounds } = start('secondary');
    send({ type: 'REPLICATION_BROKEN', reason: 'x', at: T0 });
    expect(stateOf(actor)).toBe('watching');
    expect(f.carryOnAlone.calls).toHaveLength(0);
  });
});

describe('failover: a primary is always promotable', () => {
  it('PEER_LOST with promotable:false still claims', () => {
    const { actor, f, send, rounds } = start('primary', { promotable: false });
    send(peerLost());
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(1);
  });

  it('LOCAL_COLO_FAILED with promotable:false still claims and carries on alone', async () => {
    const { actor, f, send, rounds } = start('primary', { promotable: false });
    send(coloFailed());
    expect(stateOf(actor)).toBe('claiming');
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    expect(stateOf(actor)).toBe('carryingOn');
    expect(f.takeOver.calls).toHaveLength(0);
    expect(f.carryOnAlone.last().input).toEqual({ vm: 'vm1', epoch: 4 });
  });
});

describe('failover: RESTORED', () => {
  it('a secondary that took over goes back to watching as primary on RESTORED', async () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    f.takeOver.last().resolve({ at: T0 + 20, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('runningAlone');
    expect(tagsOf(actor)).toEqual(['acted', 'active', 'alone']);
    send({ type: 'RESTORED' });
    expect(stateOf(actor)).toBe('watching');
    expect(tagsOf(actor)).toEqual(['steady', 'watching']);
    expect(ctxOf(actor).role).toBe('primary');
    expect(ctxOf(actor).epoch).toBe(4);
    expect(reasonOf(actor)).toBe('protected again: a fresh secondary follows in COLO');
    // As primary it now fences on LEASE_LOST.
    send(leaseLost());
    expect(stateOf(actor)).toBe('fencing');
  });

  it('a primary that carried on alone stays primary on RESTORED', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    f.carryOnAlone.last().resolve({ at: T0 + 20, steps: {} });
    await flush();
    send({ type: 'RESTORED' });
    expect(stateOf(actor)).toBe('watching');
    expect(ctxOf(actor).role).toBe('primary');
  });

  it('RESTORED outside runningAlone is ignored', () => {
    const { actor, send } = start('secondary');
    send({ type: 'RESTORED' });
    expect(stateOf(actor)).toBe('watching');
    expect(ctxOf(actor).role).toBe('secondary');
  });
});

describe('failover: LEASE_LOST while acting', () => {
  it('a primary claiming -> fencing, and the claim is cancelled', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    const claim = f.claimLease.last();
    send(leaseLost('kv entry deleted'));
    expect(stateOf(actor)).toBe('fencing');
    expect(tagsOf(actor)).toEqual(['acted', 'fenced']);
    expect(reasonOf(actor)).toBe('lease lost while claiming (kv entry deleted): fencing the VM');
    expect(claim.signal.aborted).toBe(true);
    expect(f.fenceVm.last().input).toEqual({ vm: 'vm1' });
    f.fenceVm.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('fenced');
  });

  it('a secondary claiming ignores LEASE_LOST (it holds no lease yet)', () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    send(leaseLost());
    expect(stateOf(actor)).toBe('claiming');
    expect(f.claimLease.last().signal.aborted).toBe(false);
  });

  it('takingOver -> fencing, cancelling the takeover', async () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
    const takeOver = f.takeOver.last();
    send(leaseLost('epoch 5 claimed by alpha'));
    expect(stateOf(actor)).toBe('fencing');
    expect(reasonOf(actor)).toBe('lease lost during takeover (epoch 5 claimed by alpha): fencing the VM');
    expect(takeOver.signal.aborted).toBe(true);
    expect(f.fenceVm.calls).toHaveLength(1);
  });

  it('carryingOn -> fencing, cancelling the carry-on', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    expect(stateOf(actor)).toBe('carryingOn');
    const carryOn = f.carryOnAlone.last();
    send(leaseLost('epoch 5 claimed by beta'));
    expect(stateOf(actor)).toBe('fencing');
    expect(reasonOf(actor)).toBe('lease lost while dropping the secondary (epoch 5 claimed by beta): fencing the VM');
    expect(carryOn.signal.aborted).toBe(true);
  });

  it('a primary whose claim fails with LockConflictError fences instead of standing by', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    await failClaim(actor, f, lockConflict);
    await flush();
    expect(stateOf(actor)).toBe('fencing');
    expect(reasonOf(actor)).toBe(
      'the lease moved on while acting as primary (compare-and-set on vm1.lease lost to another writer): fencing the VM',
    );
    expect(f.fenceVm.calls).toHaveLength(1);
    await advance(STANDBY_RETRY_MS * 2);
    expect(rounds()).toBe(1);
  });

  it('a primary whose claim fails for another reason does not fence (strict: passive)', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('passive');
    expect(f.fenceVm.calls).toHaveLength(0);
  });
});

describe('failover: standingBy decides on the peer liveness it has seen', () => {
  /** A secondary whose claim lost to the peer; `during` runs while the claim is still pending. */
  async function standingBy(during: (send: (e: FailoverEvent) => void) => void = () => {}) {
    const s = start('secondary');
    s.send(peerLost());
    expect(stateOf(s.actor)).toBe('claiming');
    during(s.send);
    await failClaim(s.actor, s.f, lockConflict);
    await flush();
    expect(stateOf(s.actor)).toBe('standingBy');
    return s;
  }

  it('peer silent: after standbyRetryMs it claims again', async () => {
    const { actor, f, rounds } = await standingBy();
    expect(ctxOf(actor).peerAlive).toBe(false);
    await advance(STANDBY_RETRY_MS - 1);
    expect(stateOf(actor)).toBe('standingBy');
    await advance(1);
    expect(stateOf(actor)).toBe('claiming');
    expect(reasonOf(actor)).toBe('peer still silent: trying the lease again');
    expect(rounds()).toBe(2);
  });

  it('PEER_BACK seen earlier (while claiming) sets peerAlive: after standbyRetryMs it watches', async () => {
    const { actor, f, rounds } = await standingBy((send) => send({ type: 'PEER_BACK' }));
    expect(ctxOf(actor).peerAlive).toBe(true);
    await advance(STANDBY_RETRY_MS);
    expect(stateOf(actor)).toBe('watching');
    expect(reasonOf(actor)).toBe('peer is alive: watching');
    expect(rounds()).toBe(1);
  });

  it('PEER_LOST after that PEER_BACK clears peerAlive again: after standbyRetryMs it claims', async () => {
    const { actor, f, rounds } = await standingBy((send) => {
      send({ type: 'PEER_BACK' });
      send(peerLost(T0 + 50));
    });
    expect(ctxOf(actor).peerAlive).toBe(false);
    await advance(STANDBY_RETRY_MS);
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(2);
  });

  it('PEER_LOST while standing by clears peerAlive and keeps standing by until the timer', async () => {
    const { actor, f, send, rounds } = await standingBy((s) => s({ type: 'PEER_BACK' }));
    send(peerLost(T0 + 60));
    expect(stateOf(actor)).toBe('standingBy');
    expect(ctxOf(actor).peerAlive).toBe(false);
    await advance(STANDBY_RETRY_MS);
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(2);
  });

  it('LOCAL_QEMU_LOST in standingBy -> releasing -> down', async () => {
    const { actor, f, send, rounds } = await standingBy();
    send(qemuLost());
    expect(stateOf(actor)).toBe('releasing');
    expect(tagsOf(actor)).toEqual(['acted', 'down']);
    expect(reasonOf(actor)).toBe('our qemu is gone (qemu exited with signal 9): handing the lease over');
    expect(f.releaseLease.last().input).toEqual({ vm: 'vm1' });
    f.releaseLease.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('down');
    await advance(STANDBY_RETRY_MS * 2);
    expect(rounds()).toBe(1);
  });

  it('LOCAL_QEMU_LOST in passive -> releasing', async () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('passive');
    send(qemuLost());
    expect(stateOf(actor)).toBe('releasing');
    expect(reasonOf(actor)).toBe('our qemu is gone (qemu exited with signal 9): handing the lease over');
    await advance(STANDBY_RETRY_MS * 2);
    expect(stateOf(actor)).toBe('releasing');
    expect(rounds()).toBe(1);
  });
});

describe('failover: takeover and carry-on are bounded by actionTimeoutMs', () => {
  it('takingOver times out -> failed (tag down), cancelling the takeover', async () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    const takeOver = f.takeOver.last();
    await advance(ACTION_TIMEOUT_MS - 1);
    expect(stateOf(actor)).toBe('takingOver');
    await advance(1);
    expect(stateOf(actor)).toBe('failed');
    expect(tagsOf(actor)).toEqual(['acted', 'down']);
    expect(reasonOf(actor)).toBe('takeover did not finish in time; operator action needed');
    expect(takeOver.signal.aborted).toBe(true);
    takeOver.resolve({ at: T0 + 99_999, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('failed');
  });

  it('carryingOn times out -> failed, cancelling the carry-on', async () => {
    const { actor, f, send, rounds } = start('primary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    const carryOn = f.carryOnAlone.last();
    await advance(ACTION_TIMEOUT_MS - 1);
    expect(stateOf(actor)).toBe('carryingOn');
    await advance(1);
    expect(stateOf(actor)).toBe('failed');
    expect(reasonOf(actor)).toBe('dropping the secondary did not finish in time; operator action needed');
    expect(carryOn.signal.aborted).toBe(true);
  });

  it('honours a different actionTimeoutMs from the input', async () => {
    const { actor, f, send, rounds } = start('secondary', { actionTimeoutMs: 500 });
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    await advance(499);
    expect(stateOf(actor)).toBe('takingOver');
    await advance(1);
    expect(stateOf(actor)).toBe('failed');
  });

  it('a takeover finishing in time does not fail later', async () => {
    const { actor, f, send, rounds } = start('secondary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
    await flush();
    await advance(ACTION_TIMEOUT_MS - 1);
    f.takeOver.last().resolve({ at: T0 + 20, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('runningAlone');
    await advance(ACTION_TIMEOUT_MS * 2);
    expect(stateOf(actor)).toBe('runningAlone');
  });
});
