import { LockConflictError, errorMessage } from '../../shared/errors.js';
import type { Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import { WarnLimiter } from '../../shared/log-limit.js';
import { PunctualCheck, PunctualDeadline } from './punctual-check.js';

/**
 * Renews a held lease by compare-and-set and reports its loss: at once when
 * another node wrote (conflict), or when the local monotonic deadline passes
 * without a successful renewal (NATS unreachable, or muted by a drill) and
 * checkpoints have stopped too. While COLO checkpoints keep completing the
 * secondary is evidently following and will not take over (it never does
 * while its checkpoints complete), so an unconfirmed lease is only reported,
 * and renewed at the same epoch once NATS answers (shared/config/timing-rules.ts).
 */
export class LeaseKeeper {
  private renewTimer: NodeJS.Timeout | null = null;
  /**
   * While the lease is held locally the next check is due when it would lapse (the deadline: one wake-up
   * then, moved on by the renewals in between, instead of a poll every checkEveryMs that found it held);
   * past it, while checkpoints keep the VM running, the check polls every checkEveryMs until a renewal
   * lands or checkpoints stop. A late check reads qemu's pending checkpoint events before it judges: our
   * own stall is not a stopped VM.
   */
  private readonly checker: PunctualCheck;
  private readonly deadline: PunctualDeadline;
  private muted = false;
  private renewing = false;
  /** Whoever keeps writing over the key must not flood the journal either. */
  private readonly rewrites: WarnLimiter;

  constructor(
    private readonly lease: Lease,
    private readonly o: {
      renewEveryMs: number;
      checkEveryMs: number;
      log: Logger;
      onLost: (reason: string) => void;
      /** Our COLO checkpoints completed recently enough (within the primary's fence bound). */
      checkpointsFlowing?: () => boolean;
      /** The lease could not be renewed in time but checkpoints flow (true), or it was renewed again (false). */
      onUnconfirmed?: (unconfirmed: boolean) => void;
      monotonic?: () => number;
    },
  ) {
    this.checker = new PunctualCheck(o.checkEveryMs, () => this.check(), o.monotonic);
    this.rewrites = new WarnLimiter(o.log);
    this.deadline = new PunctualDeadline(() => this.check());
  }

  /** The deadline passed without a renewal while checkpoints kept completing. */
  unconfirmed = false;

  get isHolding(): boolean {
    return this.renewTimer !== null;
  }

  hold(): void {
    if (this.isHolding) return;
    this.renewTimer = setInterval(() => void this.renew(), this.o.renewEveryMs);
    this.deadline.in(this.lease.remainingMs() + 1);
  }

  letGo(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.checker.stop();
    this.deadline.cancel();
  }

  /** Drill partition: stop renewing, as a node cut off from NATS would. */
  mute(muted: boolean): void {
    this.muted = muted;
  }

  private async renew(): Promise<void> {
    if (this.muted || this.renewing || !this.isHolding) return;
    this.renewing = true;
    try {
      const { epoch, rewrote } = await this.lease.renew();
      if (rewrote) this.rewrites.warn('lease-rewritten', { epoch, overwrittenBy: rewrote }, 'the lease key was overwritten by something that is no takeover: wrote our record back');
      if (this.unconfirmed) {
        this.unconfirmed = false;
        this.o.log.info({ epoch }, 'lease confirmed again at the same epoch');
        this.o.onUnconfirmed?.(false);
      }
    } catch (e) {
      if (e instanceof LockConflictError) this.lost('another node took the lease');
      else this.o.log.warn({ reason: errorMessage(e) }, 'lease renewal failed; retrying');
    } finally {
      this.renewing = false;
    }
  }

  private check(): void {
    if (!this.isHolding) return;
    if (this.lease.isHeldLocally()) {
      this.checker.stop();
      if (!this.deadline.armed) this.deadline.in(this.lease.remainingMs() + 1);
      return;
    }
    if (!this.muted && this.o.checkpointsFlowing?.()) {
      this.checker.start();
      if (!this.unconfirmed) {
        this.unconfirmed = true;
        this.o.log.warn('lease not renewed in time, but COLO checkpoints keep completing: keeping the VM running and renewing');
        this.o.onUnconfirmed?.(true);
      }
      return;
    }
    this.lost(this.unconfirmed ? 'could not confirm the lease and checkpoints stopped' : 'could not renew the lease before it expired');
  }

  private lost(reason: string): void {
    if (!this.isHolding) return;
    this.letGo();
    this.o.onLost(reason);
  }
}
