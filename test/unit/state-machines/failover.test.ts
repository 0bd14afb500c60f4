import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  STANDBY_RETRY_MS,
  T0,
  CLAIM_DEADLINE_MS,
  CLAIM_RETRY_MS,
  advance,
  failClaim,
  flush,
  lockConflict,
  natsUnavailable,
  peerLost,
  reasonOf,
  startFailover,
  stateOf,
  tagsOf,
} from './failover-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('failoverMachine: secondary takes over only after winning the lease', () => {
  it('PEER_LOST -> claiming -> takingOver -> runningAlone as primary with the epoch from the claim', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    expect(stateOf(actor)).toBe('watching');
    expect(tagsOf(actor)).toEqual(['steady', 'watching']);
    expect(actor.getSnapshot().context).toMatchObject({ trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null });

    send(peerLost(T0, 'no heartbeat from alpha for 3012 ms'));
    expect(stateOf(actor)).toBe('claiming');
    expect(tagsOf(actor)).toEqual(['failingOver']);
    expect(rounds()).toBe(1);
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
    expect(actor.getSnapshot().context).toMatchObject({ trigger: 'no heartbeat from alpha for 3012 ms', detectedAt: T0 });
    expect(reasonOf(actor)).toContain('claiming the lease');
    expect(f.takeOver.calls).toHaveLength(0);

    f.claimLease.last().resolve({ epoch: 4, at: T0 + 40 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
    expect(tagsOf(actor)).toEqual(['acted', 'failingOver']);
    expect(actor.getSnapshot().context).toMatchObject({ epoch: 4, leaseWonAt: T0 + 40, role: 'secondary', takeoverAt: null });
    expect(reasonOf(actor)).toContain('epoch 4');
    expect(f.takeOver.last().input).toEqual({ vm: 'vm1', epoch: 4 });

    f.takeOver.last().resolve({ at: T0 + 130, steps: {} });
    await flush();
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('runningAlone');
    expect(tagsOf(actor)).toEqual(['acted', 'active', 'alone']);
    expect(snap.context).toMatchObject({
      role: 'primary',
      epoch: 4,
      trigger: 'no heartbeat from alpha for 3012 ms',
      detectedAt: T0,
      leaseWonAt: T0 + 40,
      takeoverAt: T0 + 130,
    });
    expect(snap.context.reason).toContain('epoch 4');
    expect(snap.context.reason).toContain('no heartbeat from alpha');
    expect(f.carryOnAlone.calls).toHaveLength(0);
    expect(f.fenceVm.calls).toHaveLength(0);
    expect(f.releaseLease.calls).toHaveLength(0);
  });

  it('stands by when the peer still holds the lease (LockConflictError), then retries after standbyRetryMs', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send(peerLost());
    await failClaim(actor, f, lockConflict);
    await flush();
    expect(stateOf(actor)).toBe('standingBy');
    expect(tagsOf(actor)).toEqual(['standingBy', 'watching']);
    expect(reasonOf(actor)).toContain('peer still holds the lease');
    expect(reasonOf(actor)).toContain('lost to another writer');
    expect(actor.getSnapshot().context.epoch).toBe(3);
    expect(f.takeOver.calls).toHaveLength(0);

    await advance(STANDBY_RETRY_MS - 1);
    expect(stateOf(actor)).toBe('standingBy');
    expect(rounds()).toBe(1);

    await advance(1);
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(2);
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
    expect(reasonOf(actor)).toBe('peer still silent: trying the lease again');

    f.claimLease.last().resolve({ epoch: 5, at: T0 + 5_000 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
    expect(f.takeOver.last().input).toEqual({ vm: 'vm1', epoch: 5 });
  });

  it('goes back to watching on PEER_BACK while standing by, and the retry timer is cancelled', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send(peerLost());
    await failClaim(actor, f, lockConflict);
    await flush();
    expect(stateOf(actor)).toBe('standingBy');

    send({ type: 'PEER_BACK' });
    expect(stateOf(actor)).toBe('watching');
    expect(reasonOf(actor)).toBe('peer is back: watching');

    await advance(STANDBY_RETRY_MS * 5);
    expect(stateOf(actor)).toBe('watching');
    expect(rounds()).toBe(1);
  });

  it('relaxed: a claim still lost to the peer at the deadline is forced once; if that loses too, it stands by', async () => {
    const { actor, f, send } = startFailover('secondary', 'relaxed');
    send(peerLost());
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
    await failClaim(actor, f, lockConflict);
    expect(actor.getSnapshot().matches({ claiming: 'forcing' })).toBe(true);
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: true });
    f.claimLease.last().reject(lockConflict());
    await flush();
    expect(stateOf(actor)).toBe('standingBy');
    expect(f.takeOver.calls).toHaveLength(0);
  });

  it('relaxed: a forced claim that wins takes over with its epoch', async () => {
    const { actor, f, send } = startFailover('secondary', 'relaxed');
    send(peerLost());
    await failClaim(actor, f, lockConflict);
    f.claimLease.last().resolve({ epoch: 7, at: T0 + 400 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
    expect(actor.getSnapshot().context).toMatchObject({ epoch: 7, leaseWonAt: T0 + 400 });
  });

  it('reports a takeover error as failed (tag down) with the reason', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 });
    await flush();
    f.takeOver.last().reject(new Error('QMP x-colo-lost-heartbeat failed: GenericError: not in COLO mode'));
    await flush();
    expect(stateOf(actor)).toBe('failed');
    expect(tagsOf(actor)).toEqual(['acted', 'down']);
    expect(reasonOf(actor)).toBe('takeover failed: QMP x-colo-lost-heartbeat failed: GenericError: not in COLO mode; operator action needed');
    expect(actor.getSnapshot().context.role).toBe('secondary');
    expect(actor.getSnapshot().context.takeoverAt).toBeNull();
  });
});

describe('failoverMachine: policy strict vs relaxed when the lease cannot be reached', () => {
  it.each(['strict', 'relaxed'] as const)('%s first claims with compare-and-set (force: false)', (policy) => {
    const { f, send } = startFailover('secondary', policy);
    send(peerLost());
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
  });

  it('retries the compare-and-set every claimRetryMs until the deadline, never cutting an attempt in flight', async () => {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost());
    f.claimLease.last().reject(natsUnavailable());
    await flush();
    expect(actor.getSnapshot().matches({ claiming: 'waiting' })).toBe(true);
    await advance(CLAIM_RETRY_MS);
    expect(f.claimLease.calls).toHaveLength(2);
    // The deadline passes while the second attempt is still pending: it is left to finish, and its win counts.
    await advance(CLAIM_DEADLINE_MS);
    expect(actor.getSnapshot().matches({ claiming: 'attempting' })).toBe(true);
    expect(f.claimLease.calls).toHaveLength(2);
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 150 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
  });

  it('decides on the last failure once the deadline passed (a conflict stands by, NATS trouble stays passive)', async () => {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost());
    f.claimLease.last().reject(lockConflict());
    await flush();
    await advance(CLAIM_RETRY_MS);
    await advance(CLAIM_DEADLINE_MS);
    f.claimLease.last().reject(natsUnavailable());
    await flush();
    expect(stateOf(actor)).toBe('passive');
    expect(reasonOf(actor)).toContain('NATS is reconnecting');
  });

  it('strict: a claim that fails for another reason (NatsUnavailableError) stays passive, and NATS_UP claims again', async () => {
    const { actor, f, send, rounds } = startFailover('secondary', 'strict');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('passive');
    expect(tagsOf(actor)).toEqual(['passive', 'watching']);
    expect(reasonOf(actor)).toBe('strict policy: cannot win the lease (NATS is reconnecting); staying passive');
    expect(f.takeOver.calls).toHaveLength(0);

    send({ type: 'NATS_DOWN' });
    expect(actor.getSnapshot().context.natsUp).toBe(false);
    expect(stateOf(actor)).toBe('passive');

    send({ type: 'NATS_UP' });
    expect(stateOf(actor)).toBe('claiming');
    expect(actor.getSnapshot().context.natsUp).toBe(true);
    expect(reasonOf(actor)).toBe('NATS is back: trying the lease again');
    expect(rounds()).toBe(2);
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });
  });

  it('strict: passive retries the claim after standbyRetryMs and returns to watching on PEER_BACK', async () => {
    const { actor, f, send, rounds } = startFailover('secondary', 'strict');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    await advance(STANDBY_RETRY_MS);
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(2);

    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('passive');
    send({ type: 'PEER_BACK' });
    expect(stateOf(actor)).toBe('watching');
    await advance(STANDBY_RETRY_MS * 3);
    expect(rounds()).toBe(2);
    expect(f.takeOver.calls).toHaveLength(0);
  });

  it('relaxed: a claim that fails with NatsUnavailableError acts without the lease and says WARNING', async () => {
    const { actor, f, send, rounds } = startFailover('secondary', 'relaxed');
    send(peerLost(T0));
    await failClaim(actor, f, natsUnavailable);
    await flush();
    // actingWithoutLease is transient (eventless): it passes straight on to takingOver.
    expect(stateOf(actor)).toBe('takingOver');
    expect(reasonOf(actor).startsWith('WARNING')).toBe(true);
    expect(reasonOf(actor)).toContain('lease not won (NATS is reconnecting)');
    expect(actor.getSnapshot().context).toMatchObject({ leaseWonAt: null, epoch: 3, detectedAt: T0 });
    expect(f.takeOver.last().input).toEqual({ vm: 'vm1', epoch: 3 });

    f.takeOver.last().resolve({ at: T0 + 200, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('runningAlone');
    expect(actor.getSnapshot().context).toMatchObject({ role: 'primary', leaseWonAt: null, takeoverAt: T0 + 200 });
  });

  it('relaxed: a primary that cannot reach the lease carries on alone without it', async () => {
    const { actor, f, send, rounds } = startFailover('primary', 'relaxed');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('carryingOn');
    expect(reasonOf(actor).startsWith('WARNING')).toBe(true);
    expect(f.carryOnAlone.last().input).toEqual({ vm: 'vm1', epoch: 3 });
    expect(f.takeOver.calls).toHaveLength(0);
  });
});

describe('failoverMachine: NATS unreachable is not peer loss', () => {
  it('ignores PEER_LOST while NATS is down and says why', async () => {
    const { actor, f, send, rounds } = startFailover('secondary', 'relaxed');
    send({ type: 'NATS_DOWN' });
    expect(stateOf(actor)).toBe('watching');
    expect(reasonOf(actor)).toBe('NATS unreachable: this is not a dead peer; waiting for NATS');

    send(peerLost());
    expect(stateOf(actor)).toBe('watching');
    expect(tagsOf(actor)).toEqual(['steady', 'watching']);
    expect(reasonOf(actor)).toContain('NATS unreachable');
    expect(actor.getSnapshot().context).toMatchObject({ natsUp: false, trigger: null, detectedAt: null });
    await advance(10 * 60_000);
    expect(stateOf(actor)).toBe('watching');
    expect(rounds()).toBe(0);
  });

  it('judges the peer again once NATS is back', () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send({ type: 'NATS_DOWN' });
    send(peerLost());
    send({ type: 'NATS_UP' });
    expect(actor.getSnapshot().context.natsUp).toBe(true);
    expect(reasonOf(actor)).toBe('watching the peer');
    expect(rounds()).toBe(0);

    send(peerLost());
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(1);
  });
});
