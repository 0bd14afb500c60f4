import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onPeriod } from '../../../agent/signals/period-clock.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('onPeriod', () => {
  it('jobs of one period share one timer and run on the same tick; the last removal stops it', () => {
    const runs: string[] = [];
    const stopA = onPeriod(100, () => runs.push('a'));
    vi.advanceTimersByTime(30);
    const stopB = onPeriod(100, () => runs.push('b'));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(70);
    expect(runs).toEqual(['a', 'b']);
    vi.advanceTimersByTime(100);
    expect(runs).toEqual(['a', 'b', 'a', 'b']);
    stopA();
    stopA();
    vi.advanceTimersByTime(100);
    expect(runs).toEqual(['a', 'b', 'a', 'b', 'b']);
    stopB();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('another period has a timer of its own; the same function joined twice runs twice until each is removed', () => {
    const job = vi.fn();
    const stop1 = onPeriod(100, job);
    const stop2 = onPeriod(100, job);
    const stopOther = onPeriod(250, job);
    expect(vi.getTimerCount()).toBe(2);
    vi.advanceTimersByTime(100);
    expect(job).toHaveBeenCalledTimes(2);
    stop1();
    vi.advanceTimersByTime(100);
    expect(job).toHaveBeenCalledTimes(3);
    stop2();
    stopOther();
    expect(vi.getTimerCount()).toBe(0);
  });
});
