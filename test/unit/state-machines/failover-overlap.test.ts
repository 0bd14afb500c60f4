import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { T0, failClaim, flush, lockConflict, peerLost, reasonOf, startFailover, startFailoverWith, failoverInput, stateOf } from './failover-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const handedOver = { type: 'LEASE_HANDED_OVER' as const, reason: 'alpha handed the lease over (its qemu is gone)', at: T0 };

describe('failoverMachine: the links to the peer are cut while the lease is won, only when COLO is over for certain', () => {
  it('a hand-over seen on the lease watch starts the claim at once, and the cut overlaps it', async () => {
    const { actor, f, send } = startFailover('secondary');
    send(handedOver);
    expect(stateOf(actor)).toBe('claiming');
    expect(reasonOf(actor)).toContain('alpha handed the lease over');
    expect(actor.getSnapshot().context).toMatchObject({ trigger: handedOver.reason, detectedAt: T0, coloOver: true });
    expect(f.prepareTakeover.last().input).toEqual({ vm: 'vm1', role: 'secondary', cut: true });
    // the cut runs alongside the claim; the takeover itself is still behind the lease
    expect(f.claimLease.calls).toHaveLength(1);
    expect(f.takeOver.calls).toHaveLength(0);
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 3 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
    expect(f.takeOver.last().input).toEqual({ vm: 'vm1', epoch: 4 });
  });

  it('COLO failed here: cut during the claim', () => {
    const { f, send } = startFailover('secondary');
    send({ type: 'LOCAL_COLO_FAILED', reason: 'qemu left COLO secondary mode (reason error)', at: T0 });
    expect(f.prepareTakeover.last().input).toEqual({ vm: 'vm1', role: 'secondary', cut: true });
  });

  it('the peer announced its qemu gone: the primary cuts during the claim', () => {
    const { f, send } = startFailover('primary');
    send({ type: 'PEER_LOST', reason: 'beta says its qemu is gone', at: T0, qemuGone: true });
    expect(f.prepareTakeover.last().input).toEqual({ vm: 'vm1', role: 'primary', cut: true });
  });

  it('a silent peer proves nothing about COLO: no cut before the lease', () => {
    const { f, send } = startFailover('secondary');
    send(peerLost(T0));
    expect(f.prepareTakeover.last().input).toEqual({ vm: 'vm1', role: 'secondary', cut: false });
  });

  it('a later silent-peer claim does not inherit an earlier proof', async () => {
    const { actor, f, send } = startFailover('secondary');
    send({ type: 'LOCAL_COLO_FAILED', reason: 'x', at: T0 });
    await failClaim(actor, f, lockConflict);
    expect(stateOf(actor)).toBe('standingBy');
    send({ type: 'PEER_BACK' });
    expect(stateOf(actor)).toBe('watching');
    send(peerLost(T0 + 10_000));
    expect(f.prepareTakeover.last().input).toEqual({ vm: 'vm1', role: 'secondary', cut: false });
  });

  it('a hand-over to a secondary that is not promotable does not take over', () => {
    const { actor, f, send } = startFailoverWith({ ...failoverInput('secondary'), promotable: false });
    send(handedOver);
    expect(stateOf(actor)).toBe('notPromotable');
    expect(f.claimLease.calls).toHaveLength(0);
    expect(f.prepareTakeover.calls).toHaveLength(0);
  });

  it('a hand-over while standing by claims again', async () => {
    const { actor, f, send } = startFailover('secondary');
    send(peerLost(T0));
    await failClaim(actor, f, lockConflict);
    expect(stateOf(actor)).toBe('standingBy');
    send(handedOver);
    expect(stateOf(actor)).toBe('claiming');
    expect(f.prepareTakeover.last().input.cut).toBe(true);
    await flush();
  });
});
