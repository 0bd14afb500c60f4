import { ColoError } from '../shared/errors.js';
import { sleep, stopSecondaryRelay, type VmPlan } from '../shared/qemu/index.js';
import { loseHeartbeat, queryColoStatus, queryStatus, runQmpSteps, yankStep, type QmpCall, type QmpClient } from '../shared/qmp/index.js';
import { StepTimer } from '../shared/step-timer.js';

/**
 * Primary lost, COLO over for certain, lease not yet won: stop serving the NBD
 * target. It never lets this copy run, so it may overlap the claim. A server
 * already stopped is what this asks for.
 */
export async function prepareTakeover(qmp: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  if (plan.nbd) await runQmpSteps(qmp, [{ execute: 'nbd-server-stop', ifRefused: 'alreadySo' }], call);
}

/**
 * Primary lost, lease won: leave COLO and run on as the only copy
 * (colo-procedure.md, Failover). If the COLO thread is stuck on a frozen
 * primary, the migration link is yanked out-of-band. `prepared`: the NBD
 * target was already stopped while the lease was being won.
 */
export async function takeOver(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: QmpCall, prepared = false): Promise<Record<string, number>> {
  const timer = new StepTimer();
  // COLO already left (qemu failed over on its own error path) is what these ask for:
  // qemu's refusal is tolerated and the COLO mode verified below.
  if (!prepared) await timer.time('nbd-server-stop', () => prepareTakeover(qmp, plan, call));
  const left = await timer.time('x-colo-lost-heartbeat', () => loseHeartbeat(qmp, call));
  if (!left.leftAtOnce) await timer.time('colo-none', () => awaitColoLeft(qmp, oob, call));
  stopSecondaryRelay(plan);
  await timer.time('devices', async () => {
    for (const device of plan.devices) await runQmpSteps(qmp, device.secondary.takeOver(), call);
  });
  await timer.time('running', async () => {
    // The run state read behind the failover counts only if no device step came after it.
    if (plan.devices.length === 0 && left.stateAfter?.running) return;
    const st = await queryStatus(qmp, call);
    if (st.running) return;
    await qmp.execute('cont', undefined, call);
    const again = await queryStatus(qmp, call);
    if (!again.running) throw new ColoError(`VM not running after takeover: run state ${again.status}`, 'local');
  });
  return timer.steps;
}

async function awaitColoLeft(qmp: QmpClient, oob: QmpClient, call: QmpCall): Promise<void> {
  const deadline = Date.now() + call.timeoutMs;
  let yanked = false;
  for (;;) {
    const colo = await queryColoStatus(qmp, call);
    if (colo.mode === 'none') return;
    if (!yanked && Date.now() > deadline - call.timeoutMs / 2) {
      await runQmpSteps(oob, [yankStep([{ type: 'migration' }])], { timeoutMs: 1_000 });
      yanked = true;
    }
    if (Date.now() > deadline) throw new ColoError(`still in COLO mode ${colo.mode} after x-colo-lost-heartbeat`, 'local');
    await sleep(1, call.signal);
  }
}
