import type { KV, NatsConnection } from 'nats';
import { LockConflictError, NatsUnavailableError, errorMessage } from '../errors.js';

export interface KvEntry {
  value: Uint8Array;
  revision: number;
}

/** A JetStream KV bucket with compare-and-set; conflicts become LockConflictError. */
export interface KvStore {
  get(key: string): Promise<KvEntry | null>;
  /** Create only if absent (or deleted); returns the new revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Write only if the key is still at `revision`; returns the new revision. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  put(key: string, value: Uint8Array): Promise<number>;
  /** Every key currently holding a value. */
  keys(): Promise<string[]>;
  /** The current value of every key, then every change (value null: deleted); `stop()` ends the stream. */
  watch(): Promise<KvWatch>;
  /** The server that leads the bucket's stream in a JetStream cluster (null on a single server). */
  streamLeader(): Promise<string | null>;
}

export interface KvChange {
  key: string;
  value: Uint8Array | null;
  revision: number;
}

export interface KvWatch extends AsyncIterable<KvChange> {
  stop(): void;
}

const WRONG_LAST_SEQUENCE = 10071;

function isConflict(e: unknown): boolean {
  const err = e as { api_error?: { err_code?: number }; message?: string };
  if (err?.api_error?.err_code === WRONG_LAST_SEQUENCE) return true;
  // kv.create surfaces the conflict as a plain error in some nats.js paths
  return typeof err?.message === 'string' && /wrong last sequence/i.test(err.message);
}

/** KV calls fail fast: a lease decision waiting 5 s (the client's default) on a dead link is worse than an error. */
const KV_TIMEOUT_MS = 1_000;

export async function openKv(nc: NatsConnection, bucket: string, replicas: number, create = true): Promise<KvStore> {
  let kv: KV;
  try {
    // Opening an existing bucket asks for its stream's info only; a missing one would be created.
    if (!create) await (await nc.jetstreamManager({ timeout: KV_TIMEOUT_MS })).streams.info(`KV_${bucket}`);
    kv = await nc.jetstream({ timeout: KV_TIMEOUT_MS }).views.kv(bucket, { history: 1, replicas });
  } catch (e) {
    throw new NatsUnavailableError(`cannot open KV bucket ${bucket}: ${errorMessage(e)}`, { cause: e });
  }
  const guard = async <T>(key: string, op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (e) {
      if (isConflict(e)) throw new LockConflictError(key, { cause: e });
      throw new NatsUnavailableError(`KV ${bucket}/${key}: ${errorMessage(e)}`, { cause: e });
    }
  };
  return {
    get: (key) =>
      guard(key, async () => {
        const entry = await kv.get(key);
        if (!entry || entry.operation !== 'PUT') return null;
        return { value: entry.value, revision: entry.revision };
      }),
    create: (key, value) => guard(key, () => kv.create(key, value)),
    update: (key, value, revision) => guard(key, () => kv.update(key, value, revision)),
    put: (key, value) => guard(key, () => kv.put(key, value)),
    keys: () =>
      guard('>', async () => {
        const out: string[] = [];
        for await (const k of await kv.keys()) out.push(k);
        return out;
      }),
    streamLeader: () => guard('>', async () => (await kv.status()).streamInfo.cluster?.leader ?? null),
    watch: () =>
      guard('>', async () => {
        const it = await kv.watch();
        return {
          stop: () => it.stop(),
          async *[Symbol.asyncIterator]() {
            for await (const e of it) yield { key: e.key, value: e.operation === 'PUT' ? e.value : null, revision: e.revision };
          },
        };
      }),
  };
}
