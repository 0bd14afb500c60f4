import type { ClaimOutput } from '../../state-machines/index.js';
import { NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { decideClaim, type Lease, type LeaseView } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus } from '../../shared/nats/index.js';
import type { LeaseKeeper } from '../signals/lease-keeper.js';

/** Between compare-and-set attempts (the failover machine waits this long): the claim races the dead side's expiry, so it retries at once. */
export const CLAIM_RETRY_MS = 1;
/** Past one TTL the dead side's lease has expired for certain; the margin covers clock reads and one KV round trip. */
export const CLAIM_DEADLINE_MARGIN_MS = 250;
/**
 * While a live peer holds the lease and the watch has shown nothing newer than
 * the last read, an attempt waits for the next record or the expiry instead of
 * reading again: no read can win before either, and each costs both agents CPU
 * on the takeover path. A missed watch record costs at most this long.
 */
export const LIVE_HOLDER_RECHECK_MS = 25;

export interface LeaseClaimerDeps {
  /** This node's name, as the lease records its holder. */
  node: string;
  lease: Lease;
  keeper: LeaseKeeper;
  bus: Bus;
  log: Logger;
}

/**
 * Wins the failover lease for this node, one attempt per call: by a hand-over
 * the watch shows, or by compare-and-set. The failover machine retries and
 * owns the deadline.
 */
export class LeaseClaimer {
  private lastView: LeaseView | null = null;
  private onHandover: ((view: LeaseView) => void) | null = null;
  private attempts = 0;
  /** Records the watch delivered so far, and how many of them the last read had seen. */
  private viewsSeen = 0;
  private viewsAtLastRead = -1;
  private onNewView: (() => void) | null = null;

  constructor(private readonly d: LeaseClaimerDeps) {}

  /** Every lease record the watch delivers. */
  viewed(view: LeaseView): void {
    this.lastView = view;
    this.viewsSeen++;
    this.onHandover?.(view);
    this.onNewView?.();
  }

  /** One attempt; `force` takes the lease from a live holder (the relaxed policy, after the deadline). */
  async claim(force: boolean, signal: AbortSignal): Promise<ClaimOutput> {
    if (force) return this.forced(signal);
    const { lease, keeper, log } = this.d;
    // A peer whose qemu died gives us the lease outright: take it as soon as the watch shows it.
    const attemptDone = new AbortController();
    const handed = new Promise<ClaimOutput>((resolve) => {
      this.onHandover = (view) => {
        if (!lease.accept(view)) return;
        keeper.hold();
        attemptDone.abort();
        log.info({ epoch: view.epoch }, 'lease handed over to us');
        resolve({ epoch: view.epoch, at: Date.now() });
      };
      if (this.lastView) this.onHandover(this.lastView);
    });
    try {
      return await Promise.race([handed, this.attempt(AbortSignal.any([signal, attemptDone.signal]))]);
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

  private async attempt(signal: AbortSignal): Promise<ClaimOutput> {
    const { lease, keeper, log, bus } = this.d;
    this.attempts++;
    try {
      if (bus.state !== 'connected') throw new NatsUnavailableError('NATS is unreachable from this node');
      await this.untilWorthReading(signal);
      this.viewsAtLastRead = this.viewsSeen;
      const { epoch } = await lease.claim({ signal, bump: true });
      keeper.hold();
      log.info({ epoch, attempts: this.attempts }, 'lease won');
      this.attempts = 0;
      return { epoch, at: Date.now() };
    } catch (e) {
      log.debug({ reason: errorMessage(e) }, 'lease claim attempt failed');
      throw e;
    }
  }

  /** Nothing new since the last read and a live other holder: wait for the watch's next record, the expiry or the recheck. */
  private untilWorthReading(signal: AbortSignal): Promise<void> {
    const v = this.lastView;
    const nothingNew = this.viewsSeen === this.viewsAtLastRead;
    if (!v || !nothingNew || signal.aborted || decideClaim(v, this.d.node, Date.now()).kind !== 'held') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.onNewView = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.min(LIVE_HOLDER_RECHECK_MS, v.expiresAtMs - Date.now())));
      signal.addEventListener('abort', done);
      this.onNewView = done;
    });
  }

  private async forced(signal: AbortSignal): Promise<ClaimOutput> {
    const { epoch } = await this.d.lease.claim({ signal, force: true });
    this.d.keeper.hold();
    this.d.log.warn({ epoch }, 'relaxed policy: took the lease from a live holder');
    return { epoch, at: Date.now() };
  }
}
