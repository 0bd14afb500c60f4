import { ColoError } from '../shared/errors.js';
import type { VmPlan } from '../shared/qemu/index.js';
import { sleep } from '../shared/qemu/index.js';
import { loseHeartbeat, queryColoStatus, queryStatus, runQmpSteps, yankSteps, type QmpCall, type QmpClient, type VmStatus } from '../shared/qmp/index.js';
import { StepTimer } from '../shared/step-timer.js';

/**
 * Cut the links to a lost secondary out-of-band first: a checkpoint or an NBD
 * write blocked on a frozen peer would otherwise hold the main monitor. A link
 * already gone (crash) is what we want; a yank that gets no answer fails.
 * A NIC's chardevs to the secondary are cut too: filter-mirror writes to a
 * frozen peer until its socket buffer is full, and then qemu's main loop waits.
 */
async function yankReplicationLinks(oob: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  const instances = [...plan.devices.flatMap((d) => d.primary.yankInstances()), { type: 'migration' as const }];
  // Out-of-band commands are answered at once and in order: sent together, they cost one round trip.
  await Promise.all(yankSteps(instances).map((step) => runQmpSteps(oob, [step], call)));
}

/**
 * Secondary lost, COLO over for certain, lease not yet won: cut every link to
 * it and drop each device's replication child. Nothing here lets the VM run
 * on unprotected, so it may overlap the claim.
 */
export async function prepareCarryOn(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  await yankReplicationLinks(oob, plan, { timeoutMs: 1_000, signal: call.signal });
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.carryOn(), call);
}

/**
 * Secondary lost, lease held: leave COLO and run on alone (colo-procedure.md,
 * Failover). `prepared`: the links were already cut while the lease was renewed.
 */
export async function carryOnAlone(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: QmpCall, prepared = false): Promise<Record<string, number>> {
  const timer = new StepTimer();
  if (!prepared) await timer.time('drop-replication', () => prepareCarryOn(qmp, oob, plan, call));
  const left = await timer.time('x-colo-lost-heartbeat', async () => {
    const l = await loseHeartbeat(qmp, call);
    if (!l.leftAtOnce) await awaitNoColo(qmp, call);
    return l;
  });
  await timer.time('running', () => ensureRunning(qmp, call, left.stateAfter));
  return timer.steps;
}

async function awaitNoColo(qmp: QmpClient, call: QmpCall): Promise<void> {
  for (;;) {
    const colo = await queryColoStatus(qmp, call);
    if (colo.mode === 'none') return;
    await sleep(2, call.signal);
  }
}

/** After leaving COLO the VM must be running; a paused VM here would be an outage. */
export async function ensureRunning(qmp: QmpClient, call: QmpCall, first: VmStatus | null = null): Promise<void> {
  if (first?.running) return;
  for (let i = 0; i < 200; i++) {
    const st = await queryStatus(qmp, call);
    if (st.running) return;
    // COLO's checkpoint pause ends by itself; only a VM stopped for good needs `cont`,
    // and one that resumed meanwhile may refuse it: the next poll tells.
    if (st.status === 'paused' || st.status === 'postmigrate') await runQmpSteps(qmp, [{ execute: 'cont', ifRefused: 'alreadySo' }], call);
    await sleep(2, call.signal);
  }
  const st = await queryStatus(qmp, call);
  throw new ColoError(`VM not running after failover: run state ${st.status}`, 'local');
}
