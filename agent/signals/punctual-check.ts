import { performance } from 'node:perf_hooks';

/**
 * A tick this much later than its period means this process stood still (a
 * long GC, a starved CPU, a blocked loop).
 */
export const STALLED_TICK_FACTOR = 4;

/**
 * A periodic judgement that is never fooled by its own process standing still.
 * After a stall Node runs every overdue timer before it reads a single socket,
 * so a check that fires then sees evidence as old as the stall (the peer's
 * beats, qemu's checkpoint events) although fresh evidence waits unread. A late
 * tick therefore judges one turn of the event loop later, after the I/O phase
 * has read what arrived meanwhile.
 */
export class PunctualCheck {
  private timer: NodeJS.Timeout | null = null;
  private deferred: NodeJS.Immediate | null = null;
  private lastTickAt: number;
  private readonly now: () => number;

  constructor(
    private readonly periodMs: number,
    private readonly judge: () => void,
    monotonic?: () => number,
  ) {
    this.now = monotonic ?? (() => performance.now());
    this.lastTickAt = this.now();
  }

  start(): void {
    if (this.timer) return;
    this.lastTickAt = this.now();
    this.timer = setInterval(() => this.tick(), this.periodMs);
  }

  get running(): boolean {
    return this.timer !== null;
  }

  /** One tick: judge now, or after the pending I/O when this tick came late. */
  tick(): void {
    const now = this.now();
    const late = now - this.lastTickAt > STALLED_TICK_FACTOR * this.periodMs;
    this.lastTickAt = now;
    if (!late) {
      if (!this.deferred) this.judge();
      return;
    }
    this.deferred ??= setImmediate(() => {
      this.deferred = null;
      if (this.timer) this.judge();
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.deferred) clearImmediate(this.deferred);
    this.timer = null;
    this.deferred = null;
  }
}
