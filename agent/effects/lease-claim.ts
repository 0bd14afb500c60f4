import type { ClaimOutput } from '../../state-machines/index.js';
import { LockConflictError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import type { Lease, LeaseView } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus } from '../../shared/nats/index.js';
import { sleep } from '../../shared/qemu/index.js';
import type { LeaseKeeper } from '../signals/lease-keeper.js';

/** Between compare-and-set attempts: the claim races the dead side's expiry, so it retries at once. */
const CLAIM_RETRY_MS = 1;
/** Past one TTL the dead side's lease has expired for certain; the margin covers clock reads and one KV round trip. */
const CLAIM_DEADLINE_MARGIN_MS = 250;

export interface LeaseClaimerDeps {
  lease: Lease;
  keeper: LeaseKeeper;
  bus: Bus;
  leaseTtlMs: number;
  log: Logger;
}

/** Wins the failover lease for this node: by a hand-over the watch shows, or by compare-and-set until the old holder's lease must have expired. */
export class LeaseClaimer {
  private lastView: LeaseView | null = null;
  private onHandover: ((view: LeaseView) => void) | null = null;

  constructor(private readonly d: LeaseClaimerDeps) {}

  /** Every lease record the watch delivers. */
  viewed(view: LeaseView): void {
    this.lastView = view;
    this.onHandover?.(view);
  }

  async claim(force: boolean, signal: AbortSignal): Promise<ClaimOutput> {
    const { lease, keeper, log } = this.d;
    // A peer whose qemu died gives us the lease outright: take it as soon as the watch shows it.
    const loopDone = new AbortController();
    const handed = new Promise<ClaimOutput>((resolve) => {
      this.onHandover = (view) => {
        if (!lease.accept(view)) return;
        keeper.hold();
        loopDone.abort();
        log.info({ epoch: view.epoch }, 'lease handed over to us');
        resolve({ epoch: view.epoch, at: Date.now() });
      };
      if (this.lastView) this.onHandover(this.lastView);
    });
    try {
      return await Promise.race([handed, this.claimLoop(force, AbortSignal.any([signal, loopDone.signal]))]);
    } finally {
      this.onHandover = null;
    }
  }

  /** A primary holds the lease before its VM runs: never two live copies, even at cold start. */
  async forPrimary(signal?: AbortSignal): Promise<number> {
    const { epoch } = await this.d.lease.claim({ signal });
    this.d.keeper.hold();
    return epoch;
  }

  /** Claim by compare-and-set until won, lost for good, or the lease could have expired (the dead side's lease lasts at most one TTL). */
  private async claimLoop(force: boolean, signal: AbortSignal): Promise<ClaimOutput> {
    const { lease, keeper, log, bus } = this.d;
    const deadline = performance.now() + this.d.leaseTtlMs + CLAIM_DEADLINE_MARGIN_MS;
    let last: unknown;
    let attempts = 0;
    while (performance.now() < deadline) {
      try {
        attempts++;
        if (bus.state !== 'connected') throw new NatsUnavailableError('NATS is unreachable from this node');
        const { epoch } = await lease.claim({ signal, bump: true });
        keeper.hold();
        log.info({ epoch, attempts }, 'lease won');
        return { epoch, at: Date.now() };
      } catch (e) {
        last = e;
        log.debug({ reason: errorMessage(e) }, 'lease claim attempt failed');
        if (signal.aborted) throw e;
      }
      await sleep(CLAIM_RETRY_MS, signal);
    }
    if (force && last instanceof LockConflictError) {
      const { epoch } = await lease.claim({ signal, force: true });
      keeper.hold();
      log.warn({ epoch }, 'relaxed policy: took the lease from a live holder');
      return { epoch, at: Date.now() };
    }
    throw last;
  }
}
