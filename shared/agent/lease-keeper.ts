import { LockConflictError, errorMessage } from '../errors.js';
import type { Lease } from '../lease/index.js';
import type { Logger } from '../log.js';

/**
 * Renews a held lease by compare-and-set and reports its loss: at once when
 * another node wrote (conflict), or when the local monotonic deadline passes
 * without a successful renewal (NATS unreachable, or muted by a drill).
 */
export class LeaseKeeper {
  private timers: NodeJS.Timeout[] = [];
  private muted = false;
  private renewing = false;

  constructor(
    private readonly lease: Lease,
    private readonly o: { renewEveryMs: number; checkEveryMs: number; log: Logger; onLost: (reason: string) => void },
  ) {}

  get isHolding(): boolean {
    return this.timers.length > 0;
  }

  hold(): void {
    if (this.isHolding) return;
    this.timers.push(setInterval(() => void this.renew(), this.o.renewEveryMs));
    this.timers.push(setInterval(() => this.check(), this.o.checkEveryMs));
  }

  letGo(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Drill partition: stop renewing, as a node cut off from NATS would. */
  mute(muted: boolean): void {
    this.muted = muted;
  }

  private async renew(): Promise<void> {
    if (this.muted || this.renewing || !this.isHolding) return;
    this.renewing = true;
    try {
      await this.lease.renew();
    } catch (e) {
      if (e instanceof LockConflictError) this.lost('another node took the lease');
      else this.o.log.warn({ reason: errorMessage(e) }, 'lease renewal failed; retrying');
    } finally {
      this.renewing = false;
    }
  }

  private check(): void {
    if (this.isHolding && !this.lease.isHeldLocally()) this.lost('could not renew the lease before it expired');
  }

  private lost(reason: string): void {
    if (!this.isHolding) return;
    this.letGo();
    this.o.onLost(reason);
  }
}
