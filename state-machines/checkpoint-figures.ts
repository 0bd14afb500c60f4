/** Pure bookkeeping of COLO checkpoints: count, recent pauses, rate. */
export interface CheckpointLog {
  count: number;
  lastPauseMs: number | null;
  lastAt: number | null;
  /** Completion times (ms since epoch) of recent checkpoints, newest last. */
  recentAt: readonly number[];
  /** Pauses of recent checkpoints, newest last (for charts and histograms). */
  recentPausesMs: readonly number[];
}

export const RECENT_CHECKPOINTS = 50;
export const RATE_WINDOW_MS = 10_000;

export const emptyCheckpointLog: CheckpointLog = {
  count: 0,
  lastPauseMs: null,
  lastAt: null,
  recentAt: [],
  recentPausesMs: [],
};

export function recordCheckpoint(log: CheckpointLog, at: number, pauseMs: number): CheckpointLog {
  return {
    count: log.count + 1,
    lastPauseMs: pauseMs,
    lastAt: at,
    recentAt: [...log.recentAt, at].slice(-RECENT_CHECKPOINTS),
    recentPausesMs: [...log.recentPausesMs, pauseMs].slice(-RECENT_CHECKPOINTS),
  };
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
