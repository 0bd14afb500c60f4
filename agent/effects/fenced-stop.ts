import type { Logger } from '../../shared/log.js';

/**
 * The highest epoch seen from the peer (its heartbeats, the lease), and the one
 * effect it licenses: a fenced qemu is paused, never resumed; once the peer acts
 * with a higher epoch it can never serve again, so it is stopped instead of
 * lingering. Without that evidence it stays paused: it may still be the only copy.
 */
export class FencedQemuStop {
  private seen = 0;
  /** The highest epoch this node held the lease at (a primary's cold-start claim is not in the failover child's context). */
  private own = 0;
  private done = false;

  constructor(
    private readonly o: {
      log: Logger;
      /** The failover child's epoch while it is fenced; null when it is not fenced. */
      fencedAtEpoch(): number | null;
      stop(reason: string): void;
    },
  ) {}

  get seenEpoch(): number {
    return this.seen;
  }

  /** A peer's epoch (heartbeat, or the lease held by the peer). */
  seenFromPeer(epoch: number): void {
    this.seen = Math.max(this.seen, epoch);
    this.check();
  }

  /**
   * This node held the lease at `epoch`. The peer learns our epoch from our
   * heartbeats and says it back in its own: that echo is no act of the peer's.
   */
  held(epoch: number): void {
    this.own = Math.max(this.own, epoch);
  }

  /** Re-judge (the child just became fenced). */
  check(): void {
    const fencedAt = this.o.fencedAtEpoch();
    if (this.done || fencedAt === null || this.seen <= Math.max(fencedAt, this.own)) return;
    this.done = true;
    const reason = `fenced, and the peer acts with epoch ${this.seen}: stopping the paused qemu`;
    this.o.log.warn({ reason }, 'stopping the fenced qemu');
    this.o.stop(reason);
  }
}
