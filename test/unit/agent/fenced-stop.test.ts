import { describe, expect, it } from 'vitest';
import { FencedQemuStop } from '../../../agent/effects/fenced-stop.js';
import { silentLogger } from '../../../shared/log.js';

describe('FencedQemuStop', () => {
  function stopper() {
    const state = { fencedAt: null as number | null, stops: [] as string[] };
    const s = new FencedQemuStop({ log: silentLogger(), fencedAtEpoch: () => state.fencedAt, stop: (r) => state.stops.push(r) });
    return { s, state };
  }

  it('stops a fenced qemu once, and only when the peer acts with a higher epoch', () => {
    const { s, state } = stopper();
    s.seenFromPeer(5);
    expect(state.stops).toEqual([]);
    state.fencedAt = 5;
    s.check();
    expect(state.stops).toEqual([]);
    s.seenFromPeer(6);
    expect(state.stops).toEqual(['fenced, and the peer acts with epoch 6: stopping the paused qemu']);
    s.seenFromPeer(7);
    s.check();
    expect(state.stops).toHaveLength(1);
  });

  it('a higher epoch seen before fencing counts once the child is fenced; an unfenced qemu is never stopped', () => {
    const { s, state } = stopper();
    s.seenFromPeer(9);
    expect(state.stops).toEqual([]);
    expect(s.seenEpoch).toBe(9);
    state.fencedAt = 8;
    s.check();
    expect(state.stops).toHaveLength(1);
  });

  it("the peer saying back the epoch this node held (a cold-start primary's) is no takeover: the paused qemu stays", () => {
    const { s, state } = stopper();
    s.held(1);
    // The failover child of a cold-start primary never claimed: its context epoch is 0.
    state.fencedAt = 0;
    s.seenFromPeer(1);
    s.check();
    expect(state.stops).toEqual([]);
    s.seenFromPeer(2);
    expect(state.stops).toEqual(['fenced, and the peer acts with epoch 2: stopping the paused qemu']);
  });
});
