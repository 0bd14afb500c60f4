import { describe, expect, it } from 'vitest';
import { LockConflictError } from '../../../../shared/errors.js';
import { createLease, notATakeover } from '../../../../shared/lease/index.js';
import { encodeJson } from '../../../../shared/nats/index.js';
import { FakeKv } from './fake-kv.js';

const KEY = 'vm1.lease';
const TTL = 1_000;
const SAFETY = 200;
const text = (s: string) => new TextEncoder().encode(s);

function setup() {
  const kv = new FakeKv();
  let wall = 1_700_000_000_000;
  let mono = 5_000;
  const clock = { now: () => wall, monotonic: () => mono, advance: (ms: number) => void ((wall += ms), (mono += ms)) };
  const lease = (node: string) => createLease({ kv, key: KEY, node, ttlMs: TTL, safetyMs: SAFETY, now: clock.now, monotonic: clock.monotonic });
  return { kv, clock, alpha: lease('alpha'), beta: lease('beta') };
}

describe('notATakeover', () => {
  it.each([
    ['garbage', text('not json'), /not a lease record/],
    ['wrong types', text('{"holder":5}'), /not a lease record/],
    ['another holder at the held epoch', encodeJson({ holder: 'beta', epoch: 3, expiresAtMs: 9e12, nonce: 'x' }), /beta at epoch 3, not above the held 3/],
    ['a release at a lower epoch', encodeJson({ holder: null, epoch: 1, expiresAtMs: 0, nonce: 'x' }), /no holder at epoch 1/],
    ['a deleted key', null, /deleted/],
  ] as const)('%s is no takeover', (_name, value, why) => {
    expect(notATakeover(value, KEY, 3)).toMatch(why);
  });

  it('a record with a higher epoch is a takeover (a claim, a forced claim, a hand-over)', () => {
    expect(notATakeover(encodeJson({ holder: 'beta', epoch: 4, expiresAtMs: 0, nonce: 'x' }), KEY, 3)).toBeNull();
    expect(notATakeover(encodeJson({ holder: 'beta', epoch: 4, expiresAtMs: 9e12, nonce: 'handover:x' }), KEY, 3)).toBeNull();
  });
});

describe('the holder renews over a write that is no takeover', () => {
  it.each([
    ['garbage', 'not json'],
    ['wrong types', '{"holder":"beta","epoch":"2"}'],
    ['a record of the peer at the same epoch', JSON.stringify({ holder: 'beta', epoch: 1, expiresAtMs: 1_800_000_000_000, nonce: 'stale' })],
    ['a release it did not write', JSON.stringify({ holder: null, epoch: 1, expiresAtMs: 0, nonce: 'stale' })],
  ])('%s: the holder writes its record back at its epoch and keeps holding; the peer still cannot claim', async (_name, value) => {
    const { kv, alpha, beta } = setup();
    await alpha.claim();
    kv.poke(KEY, text(value));
    const renewed = await alpha.renew();
    expect(renewed.epoch).toBe(1);
    expect(renewed.rewrote).toBeTruthy();
    expect(alpha.isHeldLocally()).toBe(true);
    expect(await alpha.read()).toMatchObject({ holder: 'alpha', epoch: 1 });
    // The next renewal is an ordinary one.
    await expect(alpha.renew()).resolves.toEqual({ epoch: 1 });
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);
  });

  it('past its local deadline the holder does not write back: the lease is lost as on any conflict', async () => {
    const { kv, clock, alpha } = setup();
    await alpha.claim();
    clock.advance(TTL - SAFETY);
    kv.poke(KEY, text('not json'));
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(new TextDecoder().decode((await kv.get(KEY))!.value)).toBe('not json');
  });

  it('a takeover (a higher epoch) is never written over, even inside the deadline', async () => {
    const { kv, alpha } = setup();
    await alpha.claim();
    kv.poke(KEY, encodeJson({ holder: 'beta', epoch: 2, expiresAtMs: 1_800_000_000_000, nonce: 'forced' }));
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(await alpha.read()).toMatchObject({ holder: 'beta', epoch: 2 });
  });

  it('a peer writing between the holder\'s read and its write-back wins: the holder loses', async () => {
    const { kv, alpha } = setup();
    await alpha.claim();
    kv.poke(KEY, text('not json'));
    const get = kv.get.bind(kv);
    kv.get = async (key) => {
      const entry = await get(key);
      kv.poke(KEY, encodeJson({ holder: 'beta', epoch: 2, expiresAtMs: 1_800_000_000_000, nonce: 'claim' }));
      return entry;
    };
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
  });
});
