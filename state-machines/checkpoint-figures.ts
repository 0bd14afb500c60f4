/** Pure bookkeeping of COLO checkpoints: count, recent pauses, rate. */
export interface CheckpointLog {
  count: number;
  lastPauseMs: number | null;
  lastAt: number | null;
  /** Completion times (ms since epoch) of recent checkpoints, newest last. */
  recentAt: readonly number[];
  /** Pauses of recent checkpoints, newest last (for charts and histograms). */
  recentPausesMs: readonly number[];
  /** Every checkpoint of the last PAUSE_WINDOW_MS (by completion time, at most MAX_WINDOW_CHECKPOINTS), newest last. */
  window: ReadonlyArray<{ at: number; pauseMs: number }>;
}

export const RECENT_CHECKPOINTS = 50;
export const RATE_WINDOW_MS = 10_000;
/** The pause percentiles and the paused share are over this much wall time. */
export const PAUSE_WINDOW_MS = 60_000;
/** Checkpoints a status carries with their times, so a reader that samples every 2 s still sees each one. */
export const CARRIED_PAUSES = 50;
const MAX_WINDOW_CHECKPOINTS = 6_000;

export const emptyCheckpointLog: CheckpointLog = {
  count: 0,
  lastPauseMs: null,
  lastAt: null,
  recentAt: [],
  recentPausesMs: [],
  window: [],
};

export function recordCheckpoint(log: CheckpointLog, at: number, pauseMs: number): CheckpointLog {
  return {
    count: log.count + 1,
    lastPauseMs: pauseMs,
    lastAt: at,
    recentAt: [...log.recentAt, at].slice(-RECENT_CHECKPOINTS),
    recentPausesMs: [...log.recentPausesMs, pauseMs].slice(-RECENT_CHECKPOINTS),
    window: [...log.window.filter((c) => at - c.at <= PAUSE_WINDOW_MS), { at, pauseMs }].slice(-MAX_WINDOW_CHECKPOINTS),
  };
}

/** The q-quantile (0..1) of `values` by nearest rank; null when there are none. */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export interface PauseStats {
  p50: number | null;
  p99: number | null;
  /** Share of the wall time the guest was stopped, over the window (or since the first checkpoint in it, if later). */
  pausedFraction: number | null;
}

/** Pause percentiles and the paused share over the last PAUSE_WINDOW_MS; nulls when no checkpoint completed in it. */
export function pauseStats(log: CheckpointLog, now: number): PauseStats {
  const inWindow = log.window.filter((c) => now - c.at <= PAUSE_WINDOW_MS);
  if (inWindow.length === 0) return { p50: null, p99: null, pausedFraction: null };
  const pauses = inWindow.map((c) => c.pauseMs);
  const firstStop = inWindow[0]!.at - inWindow[0]!.pauseMs;
  const spanMs = Math.max(1, Math.min(PAUSE_WINDOW_MS, now - firstStop));
  const stopped = pauses.reduce((a, b) => a + b, 0);
  return { p50: quantile(pauses, 0.5), p99: quantile(pauses, 0.99), pausedFraction: Math.min(1, stopped / spanMs) };
}

/** Checkpoints per second over the last RATE_WINDOW_MS, 0 when fewer than two fall in it. */
export function checkpointRate(log: CheckpointLog, now: number): number {
  const inWindow = log.recentAt.filter((t) => now - t <= RATE_WINDOW_MS);
  if (inWindow.length < 2) return 0;
  const first = inWindow[0]!;
  const spanMs = Math.max(now - first, 1);
  return Math.round(((inWindow.length - 1) * 1000 * 100) / spanMs) / 100;
}

/** How long without a checkpoint before COLO counts as stalled: generous, a checkpoint can take a while. */
export function stallBoundMs(checkpointDelayMs: number): number {
  return Math.max(3 * checkpointDelayMs + 2_000, 3_000);
}
