import { afterEach, describe, expect, it, vi } from 'vitest';
import { PunctualCheck, PunctualDeadline, STALLED_TICK_FACTOR } from '../../../agent/signals/punctual-check.js';

afterEach(() => vi.useRealTimers());

describe('PunctualCheck', () => {
  it('judges at once on a punctual tick', () => {
    let mono = 0;
    const judge = vi.fn();
    const check = new PunctualCheck(100, judge, () => mono);
    mono = 100;
    check.tick();
    expect(judge).toHaveBeenCalledTimes(1);
  });

  it('after a stall, judges only once the pending I/O has been read (setImmediate), and only once', async () => {
    let mono = 0;
    const seen: string[] = [];
    const check = new PunctualCheck(100, () => seen.push('judged'), () => mono);
    check.start();
    mono = 100 * STALLED_TICK_FACTOR + 1;
    check.tick();
    check.tick();
    seen.push('io');
    expect(seen).toEqual(['io']);
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['io', 'judged']);
    check.stop();
  });

  it('a stopped check never judges a deferred tick', async () => {
    let mono = 0;
    const judge = vi.fn();
    const check = new PunctualCheck(100, judge, () => mono);
    check.start();
    mono = 10_000;
    check.tick();
    check.stop();
    await new Promise((r) => setImmediate(r));
    expect(judge).not.toHaveBeenCalled();
  });
});

describe('PunctualDeadline', () => {
  it('judges once, when the moment comes, after the I/O that arrived meanwhile; in() moves the moment', () => {
    vi.useFakeTimers();
    const seen: string[] = [];
    const deadline = new PunctualDeadline(() => seen.push('judged'));
    deadline.in(50);
    vi.advanceTimersByTime(30);
    deadline.in(50);
    vi.advanceTimersByTime(49);
    expect(seen).toEqual([]);
    expect(deadline.armed).toBe(true);
    vi.advanceTimersByTime(1);
    seen.push('io');
    vi.advanceTimersByTime(0);
    vi.runOnlyPendingTimers();
    expect(seen).toEqual(['io', 'judged']);
    expect(deadline.armed).toBe(false);
    vi.advanceTimersByTime(1_000);
    expect(seen).toEqual(['io', 'judged']);
  });

  it('cancel() drops a pending judgement', async () => {
    const judge = vi.fn();
    const deadline = new PunctualDeadline(judge);
    deadline.in(1);
    deadline.cancel();
    await new Promise((r) => setTimeout(r, 5));
    expect(judge).not.toHaveBeenCalled();
    deadline.in(1);
    await new Promise((r) => setTimeout(r, 5));
    expect(judge).toHaveBeenCalledTimes(1);
  });
});
