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
  /** Started: on its own timer, or ticked by its owner's timer of the same period. */
  private active = false;
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
    this.active = true;
    this.lastTickAt = this.now();
    this.timer = setInterval(() => this.tick(), this.periodMs);
  }

  /** Started without a timer of its own: the owner calls tick() from its timer of the same period (one wake-up for both jobs). */
  startTicked(): void {
    if (this.active) return;
    this.active = true;
    this.lastTickAt = this.now();
  }

  get running(): boolean {
    return this.active;
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
      if (this.active) this.judge();
    });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.deferred) clearImmediate(this.deferred);
    this.active = false;
    this.timer = null;
    this.deferred = null;
  }
}

/**
 * A judgement due at a moment rather than a poll before it: one timer wake-up
 * when the moment comes (and one more each time the moment has moved on by
 * then), instead of one every few milliseconds while nothing is due. Each
 * wake-up of an idle agent costs about 0.1 ms of CPU, so a 25 ms poll alone is
 * 0.4-0.5 % of a core. The verdict is always given one turn of the event loop
 * after the timer fired, once the I/O phase has read what arrived meanwhile:
 * a timer that fires after this process stood still is then no more fooled
 * than PunctualCheck's late tick (and one that fires on time loses well under
 * a millisecond).
 */
export class PunctualDeadline {
  private timer: NodeJS.Timeout | null = null;
  private deferred: NodeJS.Immediate | null = null;

  constructor(private readonly judge: () => void) {}

  /** Judge in `ms` (at least 1); replaces the moment set before. */
  in(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.deferred ??= setImmediate(() => {
        this.deferred = null;
        this.judge();
      });
    }, Math.max(1, Math.ceil(ms)));
  }

  get armed(): boolean {
    return this.timer !== null || this.deferred !== null;
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.deferred) clearImmediate(this.deferred);
    this.timer = null;
    this.deferred = null;
  }
}
