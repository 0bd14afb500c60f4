import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { LockConflictError } from '../../shared/errors.js';
import { createLease, type Lease } from '../../shared/lease/index.js';
import { silentLogger } from '../../shared/log.js';
import { connectBus, kvBuckets, kvKeys } from '../../shared/nats/index.js';
import { startNatsServer } from '../helpers/nats.js';
import { tmpRun } from '../helpers/tmp-run.js';

const TTL_MS = 300;

/** Two nodes, each with its own bus connection to one real nats-server, sharing one lease key. */
async function twoNodes(name: string): Promise<{ alpha: Lease; beta: Lease }> {
  const nats = await startNatsServer(tmpRun(name));
  const lease = async (node: string): Promise<Lease> => {
    const bus = await connectBus({ servers: [nats.url], name: `lease-test-${node}`, log: silentLogger() });
    onTestFinished(() => bus.close());
    const kv = await bus.kv(kvBuckets.lease('t'), { replicas: 1 });
    return createLease({ kv, key: kvKeys.lease('vm1'), node, ttlMs: TTL_MS });
  };
  return { alpha: await lease('alpha'), beta: await lease('beta') };
}

describe('failover lease on a real nats-server', () => {
  it('a contested claim has exactly one winner, 20 rounds, with strictly increasing epochs', async () => {
    const { alpha, beta } = await twoNodes('lease-contested');
    const nodes = { alpha, beta };
    const epochs: number[] = [];
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled([alpha.claim(), beta.claim()]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ node: i === 0 ? 'alpha' : 'beta', epoch: r.value.epoch }] : []));
      const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      expect(lost, `round ${round}`).toHaveLength(1);
      expect(lost[0]).toBeInstanceOf(LockConflictError);
      const winner = won[0]!;
      const winnerLease = nodes[winner.node as keyof typeof nodes];
      const loserLease = winner.node === 'alpha' ? beta : alpha;
      expect(winnerLease.isHeldLocally()).toBe(true);
      expect(loserLease.isHeldLocally()).toBe(false);
      expect(await winnerLease.read()).toMatchObject({ holder: winner.node, epoch: winner.epoch });
      epochs.push(winner.epoch);
      await winnerLease.release();
    }
    expect(epochs[0]).toBe(1);
    for (let i = 1; i < epochs.length; i++) expect(epochs[i]).toBeGreaterThan(epochs[i - 1]!);
  });

  it('renew keeps the epoch; the other is refused while live, takes over after expiry; the old holder then loses', async () => {
    const { alpha, beta } = await twoNodes('lease-expiry');
    const { epoch } = await alpha.claim();
    await sleep(TTL_MS / 3);
    await expect(alpha.renew()).resolves.toEqual({ epoch });
    expect(alpha.isHeldLocally()).toBe(true);
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);
    expect(beta.isHeldLocally()).toBe(false);

    await sleep(TTL_MS + 50);
    expect(alpha.isHeldLocally()).toBe(false); // judged locally, without any KV traffic
    await expect(beta.claim()).resolves.toEqual({ epoch: epoch + 1 });
    expect(beta.isHeldLocally()).toBe(true);
    await expect(alpha.renew()).rejects.toBeInstanceOf(LockConflictError);
    expect(alpha.isHeldLocally()).toBe(false);
    expect(await alpha.read()).toMatchObject({ holder: 'beta', epoch: epoch + 1 });
  });

  it('release hands over immediately', async () => {
    const { alpha, beta } = await twoNodes('lease-release');
    const { epoch } = await alpha.claim();
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);
    await alpha.release();
    expect(alpha.isHeldLocally()).toBe(false);
    expect(await beta.read()).toMatchObject({ holder: null, epoch, expiresAtMs: 0 });
    await expect(beta.claim()).resolves.toEqual({ epoch: epoch + 1 });
    // releasing again, or after losing it, changes nothing
    await alpha.release();
    expect(await beta.read()).toMatchObject({ holder: 'beta', epoch: epoch + 1 });
  });
});
