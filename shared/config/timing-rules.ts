/**
 * The timing rules that keep a NATS outage from being a failure, and keep the
 * pair safe when it is one (README, "A NATS outage is not a failure").
 *
 * A secondary never takes over while checkpoints still complete on it: only
 * once none completed for `takeoverVetoMs` (and it then needs the lease). A
 * primary that cannot confirm its lease keeps running while its own
 * checkpoints complete, and fences once none completed for
 * `primaryFenceBoundMs`. Both sides see the same checkpoints stop, so the
 * primary is stopped before the secondary can act when
 * primaryFenceBoundMs + FENCE_ACTION_MS <= takeoverVetoMs.
 */

/** Checkpoints count as flowing on the secondary for this long after the last one: heartbeat silence alone never promotes it inside it. */
export function takeoverVetoMs(heartbeatTimeoutMs: number, checkpointDelayMs: number): number {
  return Math.max(heartbeatTimeoutMs, 3 * checkpointDelayMs);
}

/** A primary without a confirmed lease fences once no checkpoint completed for this long (two periods and slack for one slow pause). */
export function primaryFenceBoundMs(checkpointDelayMs: number): number {
  return 2 * checkpointDelayMs + 100;
}

/** The keeper's check period plus the out-of-band yank and `stop`: from the decision to a stopped guest. */
export const FENCE_ACTION_MS = 100;

/** Null when the rule holds, else why not (for `config check`). */
export function fenceRuleViolation(heartbeatTimeoutMs: number, checkpointDelayMs: number): string | null {
  const fence = primaryFenceBoundMs(checkpointDelayMs) + FENCE_ACTION_MS;
  const veto = takeoverVetoMs(heartbeatTimeoutMs, checkpointDelayMs);
  if (fence <= veto) return null;
  return (
    `a primary that cannot confirm its lease fences ${fence} ms (2 x checkpointDelayMs + 100 + ${FENCE_ACTION_MS}) after the last checkpoint, ` +
    `later than its secondary may take over (${veto} ms = max(heartbeatTimeoutMs, 3 x checkpointDelayMs)); raise timings.heartbeatTimeoutMs to at least ${fence}`
  );
}
