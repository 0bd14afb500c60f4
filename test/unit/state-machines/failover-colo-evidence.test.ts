import { describe, expect, it } from 'vitest';
import { peerLost, reasonOf, startFailover, stateOf, T0 } from './failover-harness.js';

/** A silent peer agent is not a dead peer VM while checkpoints still complete here. */
describe('failover machine: checkpoints as evidence that the peer VM lives', () => {
  it.each(['primary', 'secondary'] as const)('%s: PEER_LOST with coloAlive stays watching, claims nothing, and says why', (role) => {
    const { actor, f, send, rounds } = startFailover(role);
    send({ type: 'PEER_BACK' });
    send({ ...peerLost(T0), coloAlive: true });
    expect(stateOf(actor)).toBe('watching');
    expect(rounds()).toBe(0);
    expect(reasonOf(actor)).toMatch(/checkpoints still complete.*not failing over/);
    expect(actor.getSnapshot().context.peerSilent).toBe(true);
    expect(actor.getSnapshot().context.peerAlive).toBe(false);
  });

  it('once checkpoints stop as well, the same silence leads to a claim', () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send({ type: 'PEER_BACK' });
    send({ ...peerLost(T0), coloAlive: true });
    send({ ...peerLost(T0 + 600, 'no heartbeat from alpha and no checkpoint for a while'), coloAlive: false });
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(1);
  });

  it('PEER_BACK clears the silent-peer note', () => {
    const { actor, send } = startFailover('primary');
    send({ ...peerLost(T0), coloAlive: true });
    send({ type: 'PEER_BACK' });
    expect(actor.getSnapshot().context.peerSilent).toBe(false);
    expect(actor.getSnapshot().context.peerAlive).toBe(true);
  });

  it('an announced loss (coloAlive false) acts at once even with recent checkpoints', () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send({ type: 'PEER_BACK' });
    send({ ...peerLost(T0, 'peer beta reports its qemu is gone'), coloAlive: false });
    expect(stateOf(actor)).toBe('claiming');
    expect(f.claimLease.calls[0]!.input).toEqual({ vm: 'vm1', force: false });
  });
});

describe('failover: a silent peer is judged again from sampled facts', () => {
  const check = (o: Partial<{ peerBeating: boolean; everBeat: boolean; coloAlive: boolean }>) => ({ type: 'SILENT_PEER_CHECK' as const, peer: 'alpha', peerBeating: false, everBeat: true, coloAlive: false, at: 5, ...o });

  it('once checkpoints stop too, a peer that went silent while they flowed is lost: claim', async () => {
    const { actor, f, rounds } = startFailover('secondary');
    actor.send({ type: 'PEER_LOST', reason: 'no heartbeat', at: 1, coloAlive: true });
    actor.send(check({ coloAlive: true }));
    expect(actor.getSnapshot().value).toBe('watching');
    actor.send(check({}));
    expect(actor.getSnapshot().matches('claiming')).toBe(true);
    expect(actor.getSnapshot().context.reason).toBe('peer lost (no heartbeat from alpha and no checkpoint for a while): claiming the lease');
    expect(rounds()).toBe(1);
  });

  it.each([
    ['the peer beats again', { peerBeating: true }],
    ['the peer never beat (not yet started)', { everBeat: false }],
    ['checkpoints still complete', { coloAlive: true }],
  ])('no claim when %s', (_, o) => {
    const { actor, f, rounds } = startFailover('secondary');
    actor.send(check(o));
    expect(actor.getSnapshot().value).toBe('watching');
    expect(rounds()).toBe(0);
  });

  it('no claim while NATS is down or the peer is known alive', () => {
    const { actor, f, rounds } = startFailover('secondary');
    actor.send({ type: 'PEER_BACK' });
    actor.send(check({}));
    actor.send({ type: 'NATS_DOWN' });
    actor.send(check({}));
    expect(rounds()).toBe(0);
  });
});
