import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AbortedError, LockConflictError, NatsUnavailableError } from '../errors.js';
import { decodeWith, encodeJson, type KvStore } from '../nats/index.js';

import { leaseRecordSchema, notATakeover, type LeaseRecord } from './record.js';

export { leaseRecordSchema, notATakeover, type LeaseRecord } from './record.js';

/**
 * The failover lease: the fencing token for "never two live copies". The
 * holder renews its record by compare-and-set; the epoch only grows when the
 * holder changes.
 */
export interface LeaseView extends LeaseRecord {
  revision: number;
}

export type ClaimDecision =
  | { kind: 'create' }
  | { kind: 'renew'; current: LeaseView }
  | { kind: 'takeover'; current: LeaseView }
  | { kind: 'held'; current: LeaseView };

/** Pure: absent -> create; mine -> renew (same epoch); released (holder null) or expired (expiresAtMs <= nowMs) -> takeover (epoch+1); otherwise held. */
export function decideClaim(current: LeaseView | null, me: string, nowMs: number): ClaimDecision {
  if (current === null) return { kind: 'create' };
  if (current.holder === me) return { kind: 'renew', current };
  if (current.holder === null || current.expiresAtMs <= nowMs) return { kind: 'takeover', current };
  return { kind: 'held', current };
}

/** Nonce prefix of a record written by a holder giving the lease to its peer. */
const HANDOVER = 'handover:';

/** Pure: a record in which the holder gave the lease to `me` (its VM is gone), newer than the epoch `me` knows. */
export function isHandoverTo(view: LeaseView, me: string, knownEpoch: number): boolean {
  return view.holder === me && view.nonce.startsWith(HANDOVER) && view.epoch > knownEpoch;
}

export interface Lease {
  /** Become holder or stay holder; returns the epoch now held. LockConflictError when held by a live other or on a lost CAS race; NatsUnavailableError on NATS trouble. */
  claim(options?: { signal?: AbortSignal; force?: boolean; bump?: boolean }): Promise<{ epoch: number }>;
  /**
   * Renew by CAS on the last revision we wrote; a conflict => LockConflictError and the lease counts as lost locally,
   * unless what overwrote our record is no takeover (notATakeover) and our deadline holds: then our record is written
   * back and `rewrote` says what it replaced.
   */
  renew(): Promise<{ epoch: number; rewrote?: string }>;
  /** Hand it over at once (holder null, expiresAtMs 0, same epoch); only if still ours (CAS); a no-op if not ours. */
  release(): Promise<void>;
  /**
   * Our VM is gone: give the lease straight to `to` with the next epoch, so it
   * can act the moment it sees the record, without a write of its own. Only if still ours.
   */
  handOver(to: string): Promise<void>;
  /** Take a lease handed over to us (seen by watching the key); false if it is not a live handover to this node. */
  accept(view: LeaseView): boolean;
  /** Follow the key: every new record, as it is written. */
  watch(onChange: (view: LeaseView) => void): Promise<() => void>;
  read(): Promise<LeaseView | null>;
  /** Local, monotonic judgement: true until (monotonic time the last successful claim/renew was sent) + ttlMs - safetyMs. */
  isHeldLocally(): boolean;
  /** ms left on the local deadline (0 when not held). */
  remainingMs(): number;
  /** Last epoch we held or saw (0 if none). */
  readonly epoch: number;
}

export interface LeaseOptions {
  kv: KvStore;
  key: string;
  node: string;
  ttlMs: number;
  /** Default ttlMs/5. */
  safetyMs?: number;
  /** Wall clock; default Date.now. */
  now?: () => number;
  /** Default performance.now. */
  monotonic?: () => number;
}

type Write = { kind: 'create' } | { kind: 'update'; revision: number };

export function createLease(o: LeaseOptions): Lease {
  const safetyMs = o.safetyMs ?? o.ttlMs / 5;
  if (!(o.ttlMs > 0) || !(safetyMs >= 0) || safetyMs >= o.ttlMs) {
    throw new RangeError(`lease ${o.key}: need ttlMs > safetyMs >= 0 (ttlMs ${o.ttlMs}, safetyMs ${safetyMs})`);
  }
  const now = o.now ?? Date.now;
  const monotonic = o.monotonic ?? (() => performance.now());
  const { kv, key, node } = o;

  let epoch = 0;
  /** Revision of our last successful write while we hold the lease; null when not ours. */
  let ownRevision: number | null = null;
  let deadline = -Infinity;
  /** The record we hold is a hand-over we accepted and have not rewritten: its epoch is already the next one. */
  let handedToUs = false;

  const lose = (): void => {
    ownRevision = null;
    deadline = -Infinity;
  };

  const read = async (): Promise<LeaseView | null> => {
    const entry = await kv.get(key);
    if (entry === null) return null;
    const record = decodeWith(leaseRecordSchema, entry.value, key);
    // Epochs only grow: a read answered after a newer record was accepted must not take us back.
    epoch = Math.max(epoch, record.epoch);
    return { ...record, revision: entry.revision };
  };

  /** A write that timed out may still have committed: the stored nonce tells. */
  const write = async (record: LeaseRecord, how: Write): Promise<number> => {
    const value = encodeJson(record);
    try {
      return how.kind === 'create' ? await kv.create(key, value) : await kv.update(key, value, how.revision);
    } catch (e) {
      if (!(e instanceof NatsUnavailableError)) throw e;
      let stored: LeaseView | null;
      try {
        stored = await read();
      } catch {
        throw e;
      }
      if (stored?.nonce === record.nonce) return stored.revision;
      const unchanged = how.kind === 'create' ? stored === null : stored?.revision === how.revision;
      if (unchanged) throw e;
      throw new LockConflictError(key, { cause: e });
    }
  };

  /** Write ourselves as holder; the local deadline counts from before the send. */
  const hold = async (newEpoch: number, how: Write, keepOnConflict = false): Promise<{ epoch: number }> => {
    const sentAt = monotonic();
    const record: LeaseRecord = { holder: node, epoch: newEpoch, expiresAtMs: now() + o.ttlMs, nonce: randomUUID() };
    try {
      ownRevision = await write(record, how);
      handedToUs = false;
    } catch (e) {
      if (e instanceof LockConflictError && !keepOnConflict) lose();
      throw e;
    }
    epoch = newEpoch;
    deadline = sentAt + o.ttlMs - safetyMs;
    return { epoch };
  };

  // One write at a time: a renewal in flight must not race a claim by the same node into a false conflict.
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  return {
    claim: (options = {}) => serial(async () => {
      const { signal, force = false, bump = false } = options;
      if (signal?.aborted) throw new AbortedError(`lease claim on ${key}`);
      // Still ours (the last write was ours and has not run out): one compare-and-set on that revision, no read first.
      if (bump && ownRevision !== null && monotonic() < deadline) {
        try {
          return await hold(epoch + (handedToUs ? 0 : 1), { kind: 'update', revision: ownRevision });
        } catch (e) {
          if (!(e instanceof LockConflictError)) throw e;
        }
      }
      const current = await read();
      if (signal?.aborted) throw new AbortedError(`lease claim on ${key}`);
      const decision = decideClaim(current, node, now());
      switch (decision.kind) {
        case 'create':
          return hold(1, { kind: 'create' });
        case 'renew': {
          // A failover by the holder itself (secondary lost) still moves the fencing token on;
          // a lease just handed to us already carries the new epoch.
          const handed = decision.current.nonce.startsWith(HANDOVER);
          return hold(decision.current.epoch + (bump && !handed ? 1 : 0), { kind: 'update', revision: decision.current.revision });
        }
        case 'held':
          if (!force) {
            lose();
            throw new LockConflictError(key);
          }
          return hold(decision.current.epoch + 1, { kind: 'update', revision: decision.current.revision });
        case 'takeover':
          return hold(decision.current.epoch + 1, { kind: 'update', revision: decision.current.revision });
      }
    }),

    renew: () => serial(async () => {
      if (ownRevision === null) throw new LockConflictError(key);
      const until = deadline;
      try {
        return await hold(epoch, { kind: 'update', revision: ownRevision }, true);
      } catch (e) {
        if (!(e instanceof LockConflictError)) throw e;
        const entry = monotonic() < until ? await kv.get(key).then((v) => ({ v }), () => null) : null;
        const rewrote = entry && notATakeover(entry.v?.value ?? null, key, epoch);
        if (!entry || !rewrote) {
          lose();
          throw e;
        }
        const held = await hold(epoch, entry.v ? { kind: 'update', revision: entry.v.revision } : { kind: 'create' });
        return { ...held, rewrote };
      }
    }),

    release: () => serial(async () => {
      if (ownRevision === null) return;
      const revision = ownRevision;
      // Stop side effects before the handover can be seen by the peer.
      lose();
      const record: LeaseRecord = { holder: null, epoch, expiresAtMs: 0, nonce: randomUUID() };
      try {
        await write(record, { kind: 'update', revision });
      } catch (e) {
        if (e instanceof LockConflictError) return;
        throw e;
      }
    }),

    handOver: (to: string) =>
      serial(async () => {
        if (ownRevision === null) return;
        const revision = ownRevision;
        lose();
        const record: LeaseRecord = { holder: to, epoch: epoch + 1, expiresAtMs: now() + o.ttlMs, nonce: `${HANDOVER}${randomUUID()}` };
        try {
          await write(record, { kind: 'update', revision });
        } catch (e) {
          if (e instanceof LockConflictError) return;
          throw e;
        }
      }),

    accept(view) {
      const remaining = view.expiresAtMs - now();
      if (view.holder !== node || !view.nonce.startsWith(HANDOVER) || remaining <= safetyMs || view.epoch < epoch) return false;
      ownRevision = view.revision;
      handedToUs = true;
      epoch = view.epoch;
      deadline = monotonic() + remaining - safetyMs;
      return true;
    },

    async watch(onChange) {
      const w = await kv.watch();
      void (async () => {
        for await (const change of w) {
          if (change.key !== key || change.value === null) continue;
          try {
            onChange({ ...decodeWith(leaseRecordSchema, change.value, key), revision: change.revision });
          } catch {
            // a bad record is not a lease: the next read reports it
          }
        }
      })().catch(() => undefined);
      return () => w.stop();
    },

    read,

    isHeldLocally: () => monotonic() < deadline,

    remainingMs: () => Math.max(0, deadline - monotonic()),

    get epoch() {
      return epoch;
    },
  };
}
