import { afterEach, describe, expect, it, vi } from 'vitest';
import { PunctualCheck, STALLED_TICK_FACTOR } from '../../../agent/signals/punctual-check.js';

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
