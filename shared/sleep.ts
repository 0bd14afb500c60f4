import { AbortedError } from './errors.js';

/**
 * The one sleep of the source tree. Resolves after `ms`; rejects with
 * AbortedError(`${what} aborted`) if `signal` aborts first (or already has).
 */
export function sleep(ms: number, signal?: AbortSignal, what = 'wait'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError(what));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortedError(what));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
