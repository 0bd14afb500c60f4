/** Times named steps of one action (a takeover, a carry-on) for the status and the bench: ms, to 0.1. */
export class StepTimer {
  readonly steps: Record<string, number> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.steps[name] = Math.round((performance.now() - t0) * 10) / 10;
    }
  }
}
