import { describe, expect, it } from 'vitest';
import { WarnLimiter } from '../../../shared/log-limit.js';
import type { Logger } from '../../../shared/log.js';

function recorder(): { log: Logger; lines: Array<{ fields: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { log, lines };
}

describe('WarnLimiter', () => {
  it('a burst of 1,000 bad requests writes the first few lines, then one line saying how many were not logged', () => {
    let now = 0;
    const { log, lines } = recorder();
    const limiter = new WarnLimiter(log, { perWindow: 5, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 1_000; i++) limiter.warn('request:x', { i }, 'rejected bad request');
    expect(lines).toHaveLength(5);
    now = 10_000;
    limiter.warn('request:x', { i: 1_000 }, 'rejected bad request');
    expect(lines).toHaveLength(7);
    expect(lines[5]).toMatchObject({ fields: { kind: 'request:x', suppressed: 995 }, msg: 'rejected bad request: 995 more not logged' });
    expect(lines[6]!.fields).toEqual({ i: 1_000 });
  });

  it('kinds are limited apart', () => {
    const { log, lines } = recorder();
    const limiter = new WarnLimiter(log, { perWindow: 1, windowMs: 1_000 }, () => 0);
    limiter.warn('a', {}, 'x');
    limiter.warn('a', {}, 'x');
    limiter.warn('b', {}, 'y');
    expect(lines.map((l) => l.msg)).toEqual(['x', 'y']);
  });
});
