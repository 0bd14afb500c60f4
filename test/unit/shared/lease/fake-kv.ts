import { LockConflictError, NatsUnavailableError } from '../../../../shared/errors.js';
import type { KvEntry, KvStore, KvWatch } from '../../../../shared/nats/index.js';

type Op = 'create' | 'update';

/**
 * An in-memory KvStore with JetStream's compare-and-set rules: one revision
 * counter for the bucket, create fails if the key exists, update fails on a
 * stale revision. `failNext` makes the next write of a kind throw
 * NatsUnavailableError, after committing (`'after-commit'`, a timed-out write
 * that landed) or without committing (`'before-commit'`).
 */
export class FakeKv implements KvStore {
  private readonly entries = new Map<string, KvEntry>();
  private seq = 0;
  private readonly failures: { op: Op; when: 'before-commit' | 'after-commit' }[] = [];
  writes = 0;

  failNext(op: Op, when: 'before-commit' | 'after-commit'): void {
    this.failures.push({ op, when });
  }

  async get(key: string): Promise<KvEntry | null> {
    const entry = this.entries.get(key);
    return entry ? { value: entry.value.slice(), revision: entry.revision } : null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    return this.write('create', key, () => {
      if (this.entries.has(key)) throw new LockConflictError(key);
      return this.commit(key, value);
    });
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.write('update', key, () => {
      if (this.entries.get(key)?.revision !== revision) throw new LockConflictError(key);
      return this.commit(key, value);
    });
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    return this.commit(key, value);
  }

  async keys(): Promise<string[]> {
    return [...this.entries.keys()];
  }

  async watch(): Promise<KvWatch> {
    const snapshot = [...this.entries].map(([key, e]) => ({ key, value: e.value.slice(), revision: e.revision }));
    return {
      stop: () => undefined,
      async *[Symbol.asyncIterator]() {
        yield* snapshot;
      },
    };
  }

  /** Store raw bytes, bypassing every check (e.g. a corrupt value). */
  poke(key: string, value: Uint8Array): number {
    return this.commit(key, value);
  }

  private write(op: Op, key: string, apply: () => number): number {
    const i = this.failures.findIndex((f) => f.op === op);
    const failure = i >= 0 ? this.failures.splice(i, 1)[0] : undefined;
    if (failure?.when === 'before-commit') throw new NatsUnavailableError(`KV fake/${key}: timeout`);
    const revision = apply();
    if (failure?.when === 'after-commit') throw new NatsUnavailableError(`KV fake/${key}: timeout`);
    return revision;
  }

  private commit(key: string, value: Uint8Array): number {
    this.writes++;
    this.seq++;
    this.entries.set(key, { value: value.slice(), revision: this.seq });
    return this.seq;
  }
}
