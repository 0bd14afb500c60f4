import { describe, expect, it } from 'vitest';
import { LeaseClaimer, LIVE_HOLDER_RECHECK_MS } from '../../../agent/effects/lease-claim.js';
import type { LeaseKeeper } from '../../../agent/signals/lease-keeper.js';
import { LockConflictError } from '../../../shared/errors.js';
import type { Lease, LeaseView } from '../../../shared/lease/index.js';
import { silentLogger } from '../../../shared/log.js';
import type { Bus } from '../../../shared/nats/index.js';

const heldByAlpha = (expiresInMs: number): LeaseView => ({ holder: 'alpha', epoch: 1, expiresAtMs: Date.now() + expiresInMs, nonce: 'n1', revision: 7 });

/** Beta's claimer against a lease alpha holds: every compare-and-set read is counted and conflicts. */
function claimerOnHeldLease() {
  const reads: number[] = [];
  const lease = {
    epoch: 1,
    claim: async () => {
      reads.push(Date.now());
      throw new LockConflictError('vm1.lease');
    },
    accept: () => false,
  } as unknown as Lease;
  const keeper = { hold: () => undefined } as unknown as LeaseKeeper;
  const bus = { state: 'connected' } as unknown as Bus;
  const claimer = new LeaseClaimer({ node: 'beta', lease, keeper, bus, log: silentLogger() });
  const attempt = (signal = new AbortController().signal) => claimer.claim(false, signal).then(() => 'won', (e: Error) => e.name);
  return { claimer, reads, attempt };
}

describe('lease claimer: no busy reads while a live peer holds the lease', () => {
  it('reads at once the first time, then waits for the watch to show something new before reading again', async () => {
    const { claimer, reads, attempt } = claimerOnHeldLease();
    claimer.viewed(heldByAlpha(1_500));
    expect(await attempt()).toBe('LockConflictError');
    expect(reads).toHaveLength(1);
    const second = attempt();
    await new Promise((r) => setTimeout(r, 5));
    expect(reads).toHaveLength(1);
    claimer.viewed(heldByAlpha(1_500));
    expect(await second).toBe('LockConflictError');
    expect(reads).toHaveLength(2);
  });

  it('with nothing new from the watch, reads again after the recheck interval (a missed record costs no more)', async () => {
    const { claimer, reads, attempt } = claimerOnHeldLease();
    claimer.viewed(heldByAlpha(1_500));
    await attempt();
    const t0 = Date.now();
    await attempt();
    expect(reads).toHaveLength(2);
    expect(reads[1]! - t0).toBeGreaterThanOrEqual(LIVE_HOLDER_RECHECK_MS - 2);
  });

  it('reads right at the expiry when it comes before the recheck', async () => {
    const { claimer, reads, attempt } = claimerOnHeldLease();
    claimer.viewed(heldByAlpha(1_500));
    await attempt();
    claimer.viewed(heldByAlpha(8));
    await attempt();
    // The new record is news: read at once; then nothing new, and it expires in 8 ms.
    const t0 = Date.now();
    await attempt();
    expect(reads).toHaveLength(3);
    expect(reads[2]! - t0).toBeLessThan(LIVE_HOLDER_RECHECK_MS - 5);
  });

  it('an aborted attempt stops waiting at once', async () => {
    const { claimer, reads, attempt } = claimerOnHeldLease();
    claimer.viewed(heldByAlpha(1_500));
    await attempt();
    const ac = new AbortController();
    const t0 = Date.now();
    const pending = attempt(ac.signal);
    ac.abort();
    await pending;
    expect(Date.now() - t0).toBeLessThan(LIVE_HOLDER_RECHECK_MS - 5);
  });

  it('an expired or released record is read at once, whatever was read before', async () => {
    const { claimer, reads, attempt } = claimerOnHeldLease();
    claimer.viewed({ ...heldByAlpha(-1), holder: null });
    await attempt();
    await attempt();
    expect(reads).toHaveLength(2);
  });
});
