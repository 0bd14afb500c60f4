import { errorMessage } from '../errors.js';
import { leaseRecordSchema } from '../lease/index.js';
import type { Logger } from '../log.js';
import {
  coloEventSchema,
  decodeWith,
  feedSubjects,
  kvBuckets,
  kvKeyParts,
  nodeStatusSchema,
  subjects,
  type Bus,
  type KvWatch,
  type Unsubscribe,
} from '../nats/index.js';
import type { Feed } from './feed.js';

/** How soon a bucket that could not be opened is tried again: doubling from the first to the last. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export interface FeedSourceOptions {
  bus: Bus;
  feed: Feed;
  /** Pairs to load from the status bucket at once (the config's); others are found on the status subjects. */
  pairs?: readonly string[];
  /** KV replicas of the buckets this source opens; it never creates one (the agents do; a read-only login may not). */
  kvReplicas?: number;
  log: Logger;
}

export interface FeedSource {
  /** Resolves once the known pairs' status buckets were read (a new subscriber sees them at once). */
  ready: Promise<void>;
  stop(): void;
}

/**
 * Feeds the Feed from NATS: every status and event subject on this
 * NATS (so every pair sharing it), the status bucket of each pair for the
 * current state at once, and a watch on each pair's lease bucket for holder
 * and expiry. Bad messages are dropped by the bus with a warning.
 */
export function startFeedSource(o: FeedSourceOptions): FeedSource {
  const { bus, feed, log } = o;
  const unsubs: Unsubscribe[] = [];
  const watches: KvWatch[] = [];
  const attempts = new Map<string, Promise<void>>();
  /** Parts whose last attempt failed: how often in a row, when, and the timer of the next try. */
  const failed = new Map<string, { count: number; at: number; timer: NodeJS.Timeout }>();
  let stopped = false;

  /**
   * One attempt per pair and part (status bucket, lease watch). A part that
   * failed is tried again later, backing off, or sooner when an agent of the
   * pair is heard from (`soon`), at most once a RETRY_FIRST_MS: a read-only
   * login cannot create a bucket, so a dashboard started before the agents
   * finds it once the first agent has made it.
   */
  const attempt = (key: string, run: (quiet: boolean) => Promise<boolean>, soon = false): Promise<void> => {
    const f = failed.get(key);
    if (f && soon && Date.now() - f.at >= RETRY_FIRST_MS) {
      clearTimeout(f.timer);
      attempts.delete(key);
    }
    let p = attempts.get(key);
    if (!p) {
      const count = failed.get(key)?.count ?? 0;
      p = run(count > 0).then((ok) => {
        clearTimeout(failed.get(key)?.timer);
        failed.delete(key);
        if (ok || stopped) return;
        const timer = setTimeout(() => {
          attempts.delete(key);
          if (!stopped) void attempt(key, run);
        }, Math.min(RETRY_FIRST_MS * 2 ** count, RETRY_MAX_MS));
        timer.unref();
        failed.set(key, { count: count + 1, at: Date.now(), timer });
      });
      attempts.set(key, p);
    }
    return p;
  };

  const attach = (pair: string, soon = false): Promise<void> =>
    Promise.all([
      attempt(`status ${pair}`, (quiet) => loadStatusBucket(pair, quiet), soon),
      attempt(`lease ${pair}`, (quiet) => watchLeases(pair, quiet), soon),
    ]).then(() => undefined);

  const loadStatusBucket = async (pair: string, quiet: boolean): Promise<boolean> => {
    try {
      const kv = await bus.kv(kvBuckets.status(pair), { replicas: o.kvReplicas, create: false });
      const keys = await kv.keys();
      await Promise.all(
        keys.map(async (key) => {
          const entry = await kv.get(key);
          if (!entry || stopped) return;
          try {
            feed.status(pair, decodeWith(nodeStatusSchema, entry.value, `${kvBuckets.status(pair)}/${key}`));
          } catch (e) {
            log.warn({ pair, key, reason: errorMessage(e) }, 'dropped bad status bucket entry');
          }
        }),
      );
      return true;
    } catch (e) {
      if (!quiet) log.warn({ pair, reason: errorMessage(e) }, 'status bucket not readable (yet): following the status subjects, trying again');
      return false;
    }
  };

  const watchLeases = async (pair: string, quiet: boolean): Promise<boolean> => {
    let watch: KvWatch;
    try {
      watch = await (await bus.kv(kvBuckets.lease(pair), { replicas: o.kvReplicas, create: false })).watch();
    } catch (e) {
      if (!quiet) log.warn({ pair, reason: errorMessage(e) }, 'lease bucket not watchable (yet): no lease holder or expiry on the feed until it is');
      return false;
    }
    if (stopped) {
      watch.stop();
      return true;
    }
    watches.push(watch);
    void (async () => {
      try {
        for await (const change of watch) {
          const vm = kvKeyParts.leaseVm(change.key);
          if (!vm) continue;
          if (change.value === null) {
            feed.lease(pair, vm, null);
            continue;
          }
          try {
            const l = decodeWith(leaseRecordSchema, change.value, `${kvBuckets.lease(pair)}/${change.key}`);
            feed.lease(pair, vm, { holder: l.holder, epoch: l.epoch, expiresAtMs: l.expiresAtMs });
          } catch (e) {
            log.warn({ pair, key: change.key, reason: errorMessage(e) }, 'dropped bad lease entry');
          }
        }
      } catch (e) {
        if (!stopped) log.warn({ pair, reason: errorMessage(e) }, 'lease watch ended');
      }
    })();
    return true;
  };

  unsubs.push(
    bus.subscribe(subjects.everyStatus(), nodeStatusSchema, (s, subject) => {
      const pair = feedSubjects.pairOf(subject);
      if (!pair) return;
      feed.status(pair, s);
      void attach(pair, true);
    }),
    bus.subscribe(subjects.everyEvent(), coloEventSchema, (e) => {
      feed.event(e);
      void attach(e.pair, true);
    }),
  );

  return {
    ready: Promise.all((o.pairs ?? []).map((pair) => attach(pair))).then(() => undefined),
    stop() {
      stopped = true;
      for (const f of failed.values()) clearTimeout(f.timer);
      failed.clear();
      for (const u of unsubs.splice(0)) u();
      for (const w of watches.splice(0)) w.stop();
    },
  };
}
