import type { Logger } from './log.js';

/**
 * Warnings about what others send (bad requests, bad messages) at a bounded
 * rate: the first `perWindow` of a kind in each window are logged, the rest
 * counted and reported once when the next one of that kind arrives after the
 * window. A burst of garbage must not flood the journal.
 */
export class WarnLimiter {
  private readonly windows = new Map<string, { startedAt: number; logged: number; suppressed: number }>();

  constructor(
    private readonly log: Logger,
    private readonly o: { perWindow: number; windowMs: number } = { perWindow: 5, windowMs: 10_000 },
    private readonly now: () => number = Date.now,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const t = this.now();
    let w = this.windows.get(kind);
    if (!w || t - w.startedAt >= this.o.windowMs) {
      if (w && w.suppressed > 0) this.log.warn({ kind, suppressed: w.suppressed, windowMs: this.o.windowMs }, `${message}: ${w.suppressed} more not logged`);
      w = { startedAt: t, logged: 0, suppressed: 0 };
      this.windows.set(kind, w);
    }
    if (w.logged < this.o.perWindow) {
      w.logged++;
      this.log.warn(fields, message);
    } else w.suppressed++;
  }
}
