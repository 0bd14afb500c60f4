/**
 * One timer per period for this agent's periodic jobs of that period (each
 * VM's heartbeat beat and qemu hang probe run every heartbeatIntervalMs): jobs
 * on one period wake the process once per tick instead of once each, at
 * phases of their own. A wake-up of an idle agent costs about 0.1 ms of CPU on
 * a virtual machine, so two 100 ms jobs out of phase were 0.1 % of a core.
 * A job joining a running clock first runs at its next tick (sooner than a
 * period after it joined, never later).
 */
interface Clock {
  timer: NodeJS.Timeout;
  jobs: Set<() => void>;
}

const clocks = new Map<number, Clock>();

/** Run `job` every `periodMs` on the clock shared by every job of that period; returns its removal (the last one stops the timer). */
export function onPeriod(periodMs: number, job: () => void): () => void {
  let clock = clocks.get(periodMs);
  if (!clock) {
    const jobs = new Set<() => void>();
    clock = { jobs, timer: setInterval(() => jobs.forEach((j) => j()), periodMs) };
    clocks.set(periodMs, clock);
  }
  const c = clock;
  // A wrapper per call, so the same function joined twice is two jobs, each removed on its own.
  const entry = (): void => job();
  c.jobs.add(entry);
  return () => {
    if (!c.jobs.delete(entry) || c.jobs.size > 0) return;
    clearInterval(c.timer);
    if (clocks.get(periodMs) === c) clocks.delete(periodMs);
  };
}
