import { describe, expect, it } from 'vitest';
import { LockConflictError } from '../../../../shared/errors.js';
import { createLease, type Lease } from '../../../../shared/lease/index.js';
import { FakeKv } from './fake-kv.js';

const KEY = 'vm1.lease';
const TTL = 1_500;
const SAFETY = 300;

function setup() {
  const kv = new FakeKv();
  let wall = 1_700_000_000_000;
  let mono = 5_000;
  const clock = { now: () => wall, monotonic: () => mono, advance: (ms: number) => ((wall += ms), (mono += ms)) };
  const lease = (node: string): Lease => createLease({ kv, key: KEY, node, ttlMs: TTL, safetyMs: SAFETY, now: clock.now, monotonic: clock.monotonic });
  return { kv, clock, alpha: lease('alpha'), beta: lease('beta') };
}

describe('lease handover: the side whose qemu died gives the lease straight to its peer', () => {
  it('hands over with the next epoch; the peer accepts it without a write and holds it locally', async () => {
    const { alpha, beta } = setup();
    expect((await alpha.claim()).epoch).toBe(1);
    await alpha.handOver('beta');
    expect(alpha.isHeldLocally()).toBe(false);
    const record = (await beta.read())!;
    expect(record).toMatchObject({ holder: 'beta', epoch: 2 });
    expect(beta.accept(record)).toBe(true);
    expect(beta.isHeldLocally()).toBe(true);
    expect(beta.epoch).toBe(2);
    // Beta's renewals continue from the handed-over revision; alpha can no longer renew.
    expect((await beta.renew()).epoch).toBe(2);
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
  });

  it('a claim by the receiver after a handover does not bump the epoch twice', async () => {
    const { alpha, beta } = setup();
    await alpha.claim();
    await alpha.handOver('beta');
    expect((await beta.claim({ bump: true })).epoch).toBe(2);
    // A later failover by the same holder still moves the token on.
    expect((await beta.claim({ bump: true })).epoch).toBe(3);
  });

  it('accept refuses what is not a live handover to this node', async () => {
    const { alpha, beta, clock } = setup();
    await alpha.claim();
    const held = (await beta.read())!;
    expect(beta.accept(held)).toBe(false);
    await alpha.handOver('beta');
    const handed = (await beta.read())!;
    expect(alpha.accept(handed)).toBe(false);
    clock.advance(TTL - SAFETY + 1);
    expect(beta.accept(handed)).toBe(false);
    expect(beta.isHeldLocally()).toBe(false);
  });

  it('handOver is a no-op for a node that does not hold the lease', async () => {
    const { alpha, beta } = setup();
    await alpha.claim();
    await beta.handOver('alpha');
    expect(await beta.read()).toMatchObject({ holder: 'alpha', epoch: 1 });
  });
});

describe('lease epochs never go back', () => {
  it('a read answered late (an older record) after a handover was accepted keeps the newer epoch for renewals', async () => {
    const { kv, alpha, beta } = setup();
    await alpha.claim();
    const stale = await kv.get(KEY);
    await alpha.handOver('beta');
    expect(beta.accept((await beta.read())!)).toBe(true);
    // The late answer of a read issued before the handover.
    const realGet = kv.get.bind(kv);
    kv.get = async () => stale;
    await beta.read();
    kv.get = realGet;
    expect(beta.epoch).toBe(2);
    expect((await beta.renew()).epoch).toBe(2);
    expect(await beta.read()).toMatchObject({ holder: 'beta', epoch: 2 });
  });
});

describe('a holder bumping its own lease (secondary lost): one compare-and-set, no read', () => {
  function counting(kv: FakeKv) {
    let gets = 0;
    const get = kv.get.bind(kv);
    kv.get = async (key) => (gets++, get(key));
    return () => gets;
  }

  it('bumps the epoch on the revision it last wrote, without reading first', async () => {
    const { kv, alpha } = setup();
    await alpha.claim();
    const gets = counting(kv);
    expect((await alpha.claim({ bump: true })).epoch).toBe(2);
    expect(gets()).toBe(0);
    expect(await alpha.read()).toMatchObject({ holder: 'alpha', epoch: 2 });
  });

  it('a hand-over accepted and not yet rewritten is already the next epoch: no second bump', async () => {
    const { kv, alpha, beta } = setup();
    await alpha.claim();
    await alpha.handOver('beta');
    expect(beta.accept((await beta.read())!)).toBe(true);
    const gets = counting(kv);
    expect((await beta.claim({ bump: true })).epoch).toBe(2);
    expect(gets()).toBe(0);
  });

  it('someone else wrote since: falls back to reading, and a live other holder is a conflict', async () => {
    const { kv, clock, alpha, beta } = setup();
    await alpha.claim();
    clock.advance(TTL + 1);
    await beta.claim();
    clock.advance(-TTL - 1);
    const gets = counting(kv);
    // alpha's local deadline has not run out on its clock, yet its revision is stale
    await expect(alpha.claim({ bump: true })).rejects.toBeInstanceOf(LockConflictError);
    expect(gets()).toBe(1);
    expect(await alpha.read()).toMatchObject({ holder: 'beta', epoch: 2 });
  });

  it('past its own deadline it reads first, as any claim', async () => {
    const { kv, clock, alpha } = setup();
    await alpha.claim();
    clock.advance(TTL);
    const gets = counting(kv);
    expect((await alpha.claim({ bump: true })).epoch).toBe(2);
    expect(gets()).toBe(1);
  });
});
