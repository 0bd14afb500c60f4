import { primaryFenceBoundMs, takeoverVetoMs, type Config } from '../../shared/config/index.js';

/**
 * Checkpoints completing here prove the peer's qemu is running: a silent peer
 * agent (crashed, restarting, cut off from NATS) is then no reason to fail
 * over, and a lease that cannot be renewed is no reason to fence. Only when
 * checkpoints stop too is the peer's VM judged lost.
 */
export class ColoEvidence {
  constructor(
    private readonly config: Config,
    private readonly checkpointDelayMs: () => number,
    /** Wall-clock ms of the last checkpoint completed on this node (null: none yet). */
    private readonly lastCheckpointAt: () => number | null,
  ) {}

  /** Checkpoints recent enough that the primary need not fence for an unconfirmed lease. */
  holdsOffFencing(now = Date.now()): boolean {
    return this.within(primaryFenceBoundMs(this.checkpointDelayMs()), now);
  }

  /** Checkpoints recent enough that a silent peer's VM is alive: no takeover. */
  vetoesTakeover(now = Date.now()): boolean {
    return this.within(takeoverVetoMs(this.config.timings.heartbeatTimeoutMs, this.checkpointDelayMs()), now);
  }

  private within(ms: number, now: number): boolean {
    const last = this.lastCheckpointAt();
    return last !== null && now - last < ms;
  }
}
