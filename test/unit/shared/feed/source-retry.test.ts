import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { startFeedSource } from '../../../../shared/feed/index.js';
import type { Feed } from '../../../../shared/feed/index.js';
import { NatsUnavailableError } from '../../../../shared/errors.js';
import { silentLogger } from '../../../../shared/log.js';
import { encodeJson, kvBuckets, kvKeys, subjects, type Bus, type KvChange, type KvStore } from '../../../../shared/nats/index.js';

const PAIR = 'p1';

/**
 * What the feed source uses of a Bus: subscribe and kv. Each bucket is
 * "missing" (kv rejects, as for a read-only login before an agent made it)
 * until the test says it exists.
 */
function fakeBus() {
  const subs = new Map<string, (raw: unknown, subject: string) => void>();
  const existing = new Set<string>();
  const kvCalls: Array<{ bucket: string; create: boolean | undefined }> = [];
  const leaseChanges: KvChange[] = [];
  const store = (): KvStore =>
    ({
      keys: async () => [],
      get: async () => null,
      watch: async () => ({
        stop: () => undefined,
        async *[Symbol.asyncIterator]() {
          for (const c of leaseChanges) yield c;
          await new Promise(() => undefined);
        },
      }),
    }) as unknown as KvStore;
  const bus = {
    subscribe<T>(subject: string, schema: z.ZodType<T>, on: (m: T, s: string) => void) {
      subs.set(subject, (raw, s) => {
        const p = schema.safeParse(raw);
        if (p.success) on(p.data, s);
      });
      return () => void subs.delete(subject);
    },
    async kv(bucket: string, o?: { create?: boolean }) {
      kvCalls.push({ bucket, create: o?.create });
      if (!existing.has(bucket)) throw new NatsUnavailableError(`cannot open KV bucket ${bucket}: stream not found`);
      return store();
    },
  } as unknown as Bus;
  const deliver = (pattern: string, subject: string, m: unknown) => subs.get(pattern)?.(m, subject);
  return { bus, existing, kvCalls, leaseChanges, deliver };
}

function fakeFeed() {
  const leases: unknown[] = [];
  const feed = { status: () => undefined, event: () => undefined, lease: (...a: unknown[]) => leases.push(a) } as unknown as Feed;
  return { feed, leases };
}

const callsOf = (f: ReturnType<typeof fakeBus>, bucket: string) => f.kvCalls.filter((c) => c.bucket === bucket).length;

describe('feed source: buckets it could not open', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('never asks to create one, tries again backing off, and sooner once an agent of the pair is heard from', async () => {
    const f = fakeBus();
    const { feed, leases } = fakeFeed();
    const source = startFeedSource({ bus: f.bus, feed, pairs: [PAIR], log: silentLogger() });
    await source.ready;
    const lease = kvBuckets.lease(PAIR);
    const status = kvBuckets.status(PAIR);
    expect(f.kvCalls.every((c) => c.create === false)).toBe(true);
    expect([callsOf(f, status), callsOf(f, lease)]).toEqual([1, 1]);

    // Backing off: 1 s, then 2 s more.
    await vi.advanceTimersByTimeAsync(1_000);
    expect([callsOf(f, status), callsOf(f, lease)]).toEqual([2, 2]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(callsOf(f, lease)).toBe(2);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(callsOf(f, lease)).toBe(3);

    // The first agent made the buckets and speaks: tried at once (a second after the last try), not 4 s later.
    f.existing.add(lease);
    f.existing.add(status);
    f.leaseChanges.push({ key: kvKeys.lease('vm1'), revision: 1, value: encodeJson({ holder: 'alpha', epoch: 1, expiresAtMs: 5, nonce: 'n' }) });
    await vi.advanceTimersByTimeAsync(1_000);
    f.deliver(subjects.everyEvent(), subjects.events(PAIR, 'vm1'), { pair: PAIR, vm: 'vm1', node: 'alpha', kind: 'protected', epoch: 1, reason: 'r', at: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(callsOf(f, lease)).toBe(4);
    expect(leases).toEqual([[PAIR, 'vm1', { holder: 'alpha', epoch: 1, expiresAtMs: 5 }]]);

    // Opened: no more tries, whatever is heard.
    f.deliver(subjects.everyEvent(), subjects.events(PAIR, 'vm1'), { pair: PAIR, vm: 'vm1', node: 'alpha', kind: 'protected', epoch: 1, reason: 'r', at: 2 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect([callsOf(f, status), callsOf(f, lease)]).toEqual([4, 4]);
    source.stop();
  });

  it('a source stopped while waiting tries no more', async () => {
    const f = fakeBus();
    const source = startFeedSource({ bus: f.bus, feed: fakeFeed().feed, pairs: [PAIR], log: silentLogger() });
    await source.ready;
    source.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(f.kvCalls).toHaveLength(2);
  });
});
