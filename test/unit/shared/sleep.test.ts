import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError } from '../../../shared/errors.js';
import { sleep } from '../../../shared/sleep.js';

describe('sleep', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('resolves after ms, not before', async () => {
    let done = false;
    const p = sleep(100).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await p;
    expect(done).toBe(true);
  });

  it('rejects with AbortedError when the signal aborts, and leaves no timer behind', async () => {
    const ac = new AbortController();
    const p = sleep(1_000, ac.signal, 'QMP connect');
    ac.abort();
    await expect(p).rejects.toThrow(new AbortedError('QMP connect'));
    await expect(p).rejects.toBeInstanceOf(AbortedError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects at once on an already aborted signal', async () => {
    await expect(sleep(1_000, AbortSignal.abort())).rejects.toThrow('wait aborted');
    expect(vi.getTimerCount()).toBe(0);
  });
});
