import { describe, expect, it } from 'vitest';
import { LockConflictError, NatsUnavailableError, ProtocolError, AbortedError } from '../../../../shared/errors.js';
import { createLease, decideClaim, leaseRecordSchema, type Lease, type LeaseView } from '../../../../shared/lease/index.js';
import { encodeJson } from '../../../../shared/nats/index.js';
import { FakeKv } from './fake-kv.js';

const KEY = 'vm1.lease';
const TTL = 1_000;
const SAFETY = 200;

function view(partial: Partial<LeaseView>): LeaseView {
  return { holder: 'alpha', epoch: 3, expiresAtMs: 10_000, nonce: 'n', revision: 7, ...partial };
}

/** One wall clock and one monotonic clock, advanced together; the monotonic one starts elsewhere on purpose. */
function clocks() {
  let wall = 1_700_000_000_000;
  let mono = 5_000;
  return {
    now: () => wall,
    monotonic: () => mono,
    advance(ms: number) {
      wall += ms;
      mono += ms;
    },
  };
}

function setup() {
  const kv = new FakeKv();
  const clock = clocks();
  const lease = (node: string, extra: { safetyMs?: number } = {}): Lease =>
    createLease({ kv, key: KEY, node, ttlMs: TTL, safetyMs: SAFETY, now: clock.now, monotonic: clock.monotonic, ...extra });
  return { kv, clock, alpha: lease('alpha'), beta: lease('beta'), lease };
}

describe('decideClaim', () => {
  const now = 10_000;
  it.each([
    ['absent', null, 'create'],
    ['mine (live)', view({ holder: 'alpha' }), 'renew'],
    ['mine (expired)', view({ holder: 'alpha', expiresAtMs: now - 1 }), 'renew'],
    ['released', view({ holder: null, expiresAtMs: 0 }), 'takeover'],
    ['expired', view({ holder: 'beta', expiresAtMs: now - 1 }), 'takeover'],
    ['expires exactly now', view({ holder: 'beta', expiresAtMs: now }), 'takeover'],
    ['held by a live other', view({ holder: 'beta', expiresAtMs: now + 1 }), 'held'],
  ] as const)('%s -> %s', (_name, current, kind) => {
    const decision = decideClaim(current, 'alpha', now);
    expect(decision.kind).toBe(kind);
    if (decision.kind !== 'create') expect(decision.current).toBe(current);
  });
});

describe('leaseRecordSchema', () => {
  it('accepts a released record and rejects extra keys', () => {
    expect(leaseRecordSchema.safeParse({ holder: null, epoch: 1, expiresAtMs: 0, nonce: 'x' }).success).toBe(true);
    expect(leaseRecordSchema.safeParse({ holder: 'a', epoch: 1, expiresAtMs: 0, nonce: 'x', extra: 1 }).success).toBe(false);
    expect(leaseRecordSchema.safeParse({ holder: 'a', epoch: 0, expiresAtMs: 0, nonce: 'x' }).success).toBe(false);
  });
});

describe('createLease', () => {
  it('rejects a safety margin that eats the whole ttl', () => {
    const kv = new FakeKv();
    expect(() => createLease({ kv, key: KEY, node: 'a', ttlMs: 100, safetyMs: 100 })).toThrow(RangeError);
  });

  it('first claim creates the key at epoch 1 and holds it locally until ttl - safety', async () => {
    const { alpha, clock } = setup();
    expect(alpha.epoch).toBe(0);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(alpha.remainingMs()).toBe(0);
    await expect(alpha.claim()).resolves.toEqual({ epoch: 1 });
    expect(alpha.epoch).toBe(1);
    expect(alpha.isHeldLocally()).toBe(true);
    expect(alpha.remainingMs()).toBe(TTL - SAFETY);
    const stored = await alpha.read();
    expect(stored).toMatchObject({ holder: 'alpha', epoch: 1, expiresAtMs: clock.now() + TTL });
    expect(stored!.nonce).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('default safety margin is ttl/5', async () => {
    const { lease } = setup();
    const gamma = lease('gamma', { safetyMs: undefined });
    await gamma.claim();
    expect(gamma.remainingMs()).toBe(TTL - TTL / 5);
  });

  it('renew keeps the epoch and extends both the stored expiry and the local deadline', async () => {
    const { alpha, clock } = setup();
    await alpha.claim();
    const first = await alpha.read();
    clock.advance(500);
    expect(alpha.remainingMs()).toBe(TTL - SAFETY - 500);
    await expect(alpha.renew()).resolves.toEqual({ epoch: 1 });
    expect(alpha.remainingMs()).toBe(TTL - SAFETY);
    const second = await alpha.read();
    expect(second!.expiresAtMs).toBe(first!.expiresAtMs + 500);
    expect(second!.revision).toBeGreaterThan(first!.revision);
    expect(second!.nonce).not.toBe(first!.nonce);
  });

  it('claim by the holder renews at the same epoch', async () => {
    const { alpha, clock } = setup();
    await alpha.claim();
    clock.advance(100);
    await expect(alpha.claim()).resolves.toEqual({ epoch: 1 });
  });

  it('renew before any claim is a conflict', async () => {
    const { alpha } = setup();
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
  });

  it('another node cannot claim while held, can after expiry (epoch 2), and the old holder then loses', async () => {
    const { alpha, beta, clock } = setup();
    await alpha.claim();
    clock.advance(TTL - 1);
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);
    expect(beta.isHeldLocally()).toBe(false);
    expect(beta.epoch).toBe(1); // seen
    clock.advance(1);
    await expect(beta.claim()).resolves.toEqual({ epoch: 2 });
    expect(beta.isHeldLocally()).toBe(true);

    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(alpha.remainingMs()).toBe(0);
    // Lost for good: a second renew does not resurrect it, and claim is refused while beta is live.
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    await expect(alpha.claim()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.epoch).toBe(2);
  });

  it('release hands over at once: the other claims with epoch + 1 without waiting', async () => {
    const { alpha, beta } = setup();
    await alpha.claim();
    await alpha.release();
    expect(alpha.isHeldLocally()).toBe(false);
    expect(await alpha.read()).toMatchObject({ holder: null, epoch: 1, expiresAtMs: 0 });
    await expect(beta.claim()).resolves.toEqual({ epoch: 2 });
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
  });

  it('release is a no-op when the lease is not ours', async () => {
    const { alpha, beta, kv, clock } = setup();
    await alpha.release(); // never held
    expect(kv.writes).toBe(0);
    await alpha.claim();
    clock.advance(TTL);
    await beta.claim();
    const before = await beta.read();
    await expect(alpha.release()).resolves.toBeUndefined();
    expect(await beta.read()).toEqual(before);
    expect(beta.isHeldLocally()).toBe(true);
  });

  it('force claim takes a live lease by CAS with epoch + 1', async () => {
    const { alpha, beta } = setup();
    await alpha.claim();
    await expect(beta.claim({ force: true })).resolves.toEqual({ epoch: 2 });
    expect(await beta.read()).toMatchObject({ holder: 'beta', epoch: 2 });
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
  });

  it('isHeldLocally turns false at the monotonic deadline with no KV traffic', async () => {
    const { alpha, clock, kv } = setup();
    await alpha.claim();
    const writes = kv.writes;
    clock.advance(TTL - SAFETY - 1);
    expect(alpha.isHeldLocally()).toBe(true);
    expect(alpha.remainingMs()).toBe(1);
    clock.advance(1);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(alpha.remainingMs()).toBe(0);
    expect(kv.writes).toBe(writes);
  });

  it('the local deadline counts from when the write was sent, not when it returned', async () => {
    const kv = new FakeKv();
    const clock = clocks();
    const slow: FakeKv['create'] = async (key, value) => {
      clock.advance(300); // the write takes 300 ms
      return FakeKv.prototype.create.call(kv, key, value);
    };
    kv.create = slow;
    const alpha = createLease({ kv, key: KEY, node: 'alpha', ttlMs: TTL, safetyMs: SAFETY, ...clock });
    await alpha.claim();
    expect(alpha.remainingMs()).toBe(TTL - SAFETY - 300);
  });

  it('a write that timed out but committed is recognised by its nonce (create and update)', async () => {
    const { alpha, kv, clock } = setup();
    kv.failNext('create', 'after-commit');
    await expect(alpha.claim()).resolves.toEqual({ epoch: 1 });
    expect(alpha.isHeldLocally()).toBe(true);
    kv.failNext('update', 'after-commit');
    clock.advance(100);
    await expect(alpha.renew()).resolves.toEqual({ epoch: 1 });
    // and the revision it recovered is the one the next CAS needs
    await expect(alpha.renew()).resolves.toEqual({ epoch: 1 });
  });

  it('a write that timed out without committing stays a NatsUnavailableError and keeps the old revision', async () => {
    const { alpha, kv, clock } = setup();
    kv.failNext('create', 'before-commit');
    await expect(alpha.claim()).rejects.toBeInstanceOf(NatsUnavailableError);
    expect(alpha.isHeldLocally()).toBe(false);
    await alpha.claim();
    clock.advance(100);
    kv.failNext('update', 'before-commit');
    await expect(alpha.renew()).rejects.toBeInstanceOf(NatsUnavailableError);
    expect(alpha.remainingMs()).toBe(TTL - SAFETY - 100);
    await expect(alpha.renew()).resolves.toEqual({ epoch: 1 });
  });

  it('a timed-out write overtaken by another writer is a conflict', async () => {
    const { alpha, beta, kv } = setup();
    const realCreate = kv.create.bind(kv);
    kv.create = async (key, value) => {
      if (new TextDecoder().decode(value).includes('"holder":"alpha"')) {
        await beta.claim(); // beta wins while alpha's write "times out"
        throw new NatsUnavailableError('timeout');
      }
      return realCreate(key, value);
    };
    await expect(alpha.claim()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(beta.isHeldLocally()).toBe(true);
  });

  it('a corrupt stored value is a ProtocolError naming the key', async () => {
    const { alpha, kv } = setup();
    kv.poke(KEY, encodeJson({ holder: 'alpha', epoch: 'one', expiresAtMs: 0, nonce: 'x' }));
    await expect(alpha.read()).rejects.toSatisfy((e) => e instanceof ProtocolError && e.subject === KEY && /epoch/.test(e.message));
    await expect(alpha.claim()).rejects.toBeInstanceOf(ProtocolError);
    kv.poke(KEY, new TextEncoder().encode('not json'));
    await expect(alpha.claim()).rejects.toSatisfy((e) => e instanceof ProtocolError && e.message.includes(KEY));
  });

  it('claim honours an aborted signal before touching the KV', async () => {
    const { alpha, kv } = setup();
    await expect(alpha.claim({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    expect(kv.writes).toBe(0);
  });
});
