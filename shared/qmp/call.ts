import type { QmpCall } from './qmp-types.js';

/** The call options every step of an agent passes down: its configured QMP timeout, and the signal of the work it belongs to. */
export function qmpCallWithin(timeoutMs: number): (signal?: AbortSignal) => QmpCall {
  return (signal) => ({ timeoutMs, signal });
}
