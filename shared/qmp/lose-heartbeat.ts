import { queryColoStatus, queryStatus, type VmStatus } from './commands.js';
import type { QmpCall, QmpClient } from './qmp-client.js';
import { runQmpSteps } from './run-steps.js';

export interface ColoLeft {
  /** COLO was over when qemu answered right behind the failover. */
  leftAtOnce: boolean;
  /** The run state read right behind it; null when COLO still ran then (it says nothing yet) or the read failed. */
  stateAfter: VmStatus | null;
}

/**
 * x-colo-lost-heartbeat with the COLO mode and run state asked right behind
 * it: qemu answers in order, so both come back the moment the failover is
 * done, a round trip each sooner than asking after its reply. A qemu already
 * out of COLO refuses it, which is what it asks for.
 */
export async function loseHeartbeat(qmp: QmpClient, call: QmpCall): Promise<ColoLeft> {
  const lost = runQmpSteps(qmp, [{ execute: 'x-colo-lost-heartbeat', ifRefused: 'alreadySo' }], call);
  // Caught at once: a failure of either must not go unhandled while the failover is awaited.
  const colo = queryColoStatus(qmp, call).catch(() => null);
  const state = queryStatus(qmp, call).catch(() => null);
  await lost;
  const leftAtOnce = (await colo)?.mode === 'none';
  return { leftAtOnce, stateAfter: leftAtOnce ? await state : null };
}
