import { describe, expect, it } from 'vitest';
import {
  RATE_WINDOW_MS,
  RECENT_CHECKPOINTS,
  checkpointRate,
  emptyCheckpointLog,
  recordCheckpoint,
  stallBoundMs,
  pauseStats,
  quantile,
  PAUSE_WINDOW_MS,
  type CheckpointLog,
} from '../../../state-machines/checkpoint-figures.js';

function logOf(times: readonly number[], pauseMs = 5): CheckpointLog {
  return times.reduce((log, at) => recordCheckpoint(log, at, pauseMs), emptyCheckpointLog);
}

describe('recordCheckpoint', () => {
  it('counts, keeps the last pause and time, and appends to the recent lists', () => {
    const one = recordCheckpoint(emptyCheckpointLog, 1_000, 12.5);
    expect(one).toEqual({ count: 1, lastPauseMs: 12.5, lastAt: 1_000, recentAt: [1_000], recentPausesMs: [12.5], window: [{ at: 1_000, pauseMs: 12.5 }] });
    const two = recordCheckpoint(one, 1_200, 3);
    expect(two).toEqual({
      count: 2,
      lastPauseMs: 3,
      lastAt: 1_200,
      recentAt: [1_000, 1_200],
      recentPausesMs: [12.5, 3],
      window: [{ at: 1_000, pauseMs: 12.5 }, { at: 1_200, pauseMs: 3 }],
    });
  });

  it('is pure: the input log is not modified', () => {
    const before = recordCheckpoint(emptyCheckpointLog, 1, 1);
    const snapshot = structuredClone(before);
    recordCheckpoint(before, 2, 2);
    expect(before).toEqual(snapshot);
    expect(emptyCheckpointLog).toEqual({ count: 0, lastPauseMs: null, lastAt: null, recentAt: [], recentPausesMs: [], window: [] });
  });

  it(`keeps only the last ${RECENT_CHECKPOINTS} points while the count keeps growing`, () => {
    const times = Array.from({ length: RECENT_CHECKPOINTS + 7 }, (_, i) => i * 100);
    const log = times.reduce((l, at, i) => recordCheckpoint(l, at, i), emptyCheckpointLog);
    expect(log.count).toBe(RECENT_CHECKPOINTS + 7);
    expect(log.recentAt).toHaveLength(RECENT_CHECKPOINTS);
    expect(log.recentPausesMs).toHaveLength(RECENT_CHECKPOINTS);
    expect(log.recentAt[0]).toBe(700);
    expect(log.recentAt.at(-1)).toBe(times.at(-1));
    expect(log.recentPausesMs.at(-1)).toBe(RECENT_CHECKPOINTS + 6);
  });
});

describe('checkpointRate', () => {
  it('is 0 with no checkpoints or a single one', () => {
    expect(checkpointRate(emptyCheckpointLog, 10_000)).toBe(0);
    expect(checkpointRate(logOf([9_000]), 10_000)).toBe(0);
  });

  it('is 0 when fewer than two checkpoints fall in the window', () => {
    const now = 100_000;
    const log = logOf([now - RATE_WINDOW_MS - 500, now - RATE_WINDOW_MS - 1, now - 100]);
    expect(checkpointRate(log, now)).toBe(0);
  });

  it('counts intervals per second from the oldest point in the window to now', () => {
    // 5 points in the window, the first 2000 ms ago: 4 intervals over 2 s.
    const now = 50_000;
    const log = logOf([now - 2_000, now - 1_500, now - 1_000, now - 500, now]);
    expect(checkpointRate(log, now)).toBe(2);
  });

  it('ignores points older than the window', () => {
    const now = 50_000;
    const inWindow = [now - 1_000, now - 500, now];
    const old = [now - RATE_WINDOW_MS - 2_000, now - RATE_WINDOW_MS - 1_000];
    expect(checkpointRate(logOf([...old, ...inWindow]), now)).toBe(checkpointRate(logOf(inWindow), now));
    expect(checkpointRate(logOf(inWindow), now)).toBe(2);
  });

  it('includes a point exactly at the window edge', () => {
    const now = 50_000;
    expect(checkpointRate(logOf([now - RATE_WINDOW_MS, now]), now)).toBe(0.1);
  });

  it('rounds to two decimals', () => {
    const now = 30_000;
    // 2 intervals over 3000 ms = 0.666... per second.
    expect(checkpointRate(logOf([now - 3_000, now - 1_000, now - 200]), now)).toBe(0.67);
  });

  it('falls as time passes without new checkpoints', () => {
    const log = logOf([10_000, 10_500, 11_000]);
    const soon = checkpointRate(log, 11_000);
    const later = checkpointRate(log, 15_000);
    expect(soon).toBe(2);
    expect(later).toBeLessThan(soon);
    expect(checkpointRate(log, 10_500 + RATE_WINDOW_MS + 1)).toBe(0);
  });
});

describe('stallBoundMs', () => {
  it.each([
    [0, 3_000],
    [100, 3_000],
    [200, 3_000],
    [333, 3_000],
    [334, 3_002],
    [1_000, 5_000],
    [10_000, 32_000],
  ])('checkpointDelayMs %i -> %i', (delay, bound) => {
    expect(stallBoundMs(delay)).toBe(bound);
  });

  it('is always longer than several checkpoint periods', () => {
    for (const delay of [10, 200, 2_000, 20_000]) {
      expect(stallBoundMs(delay)).toBeGreaterThan(3 * delay);
    }
  });
});

describe('pause statistics over the last minute', () => {
  it('nearest-rank quantiles', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([7], 0.99)).toBe(7);
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(quantile(hundred, 0.5)).toBe(50);
    expect(quantile(hundred, 0.99)).toBe(99);
    expect(quantile([...hundred].reverse(), 0.99)).toBe(99);
  });

  it('p50, p99 and the paused share cover only the window; none without a checkpoint in it', () => {
    // 5 checkpoints a second for two minutes, 8 ms each, then 100 ms each in the last 10 s.
    let log = emptyCheckpointLog;
    for (let at = 200; at <= 120_000; at += 200) log = recordCheckpoint(log, at, at > 110_000 ? 100 : 8);
    const s = pauseStats(log, 120_000);
    expect(s.p50).toBe(8);
    expect(s.p99).toBe(100);
    // In the last 60 s: 250 x 8 ms + 50 x 100 ms = 7 s stopped of 60 s.
    expect(s.pausedFraction).toBeCloseTo(7 / 60, 3);
    expect(log.window.length).toBeLessThanOrEqual(301);
    expect(pauseStats(log, 120_000 + PAUSE_WINDOW_MS + 1)).toEqual({ p50: null, p99: null, pausedFraction: null });
  });

  it('a paused share right after the first checkpoint is over the time since its STOP, never above 1', () => {
    const log = recordCheckpoint(emptyCheckpointLog, 1_000, 90);
    expect(pauseStats(log, 1_010).pausedFraction).toBeCloseTo(90 / 100, 5);
    expect(pauseStats(log, 1_000).pausedFraction).toBe(1);
  });
});
