import { ColoError } from '../shared/errors.js';
import { sleep, type VmPlan } from '../shared/qemu/index.js';
import { queryColoStatus, queryStatus, runQmpSteps, yankStep, type QmpCall, type QmpClient } from '../shared/qmp/index.js';

/**
 * Primary lost: stop serving the NBD target, leave COLO and run on as the
 * only copy (colo-procedure.md, Failover). If the COLO thread is stuck on a
 * frozen primary, the migration link is yanked out-of-band.
 */
export async function takeOver(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  // A server already stopped, or COLO already left (qemu failed over on its own error path), is
  // what these ask for: qemu's refusal is tolerated and the COLO mode verified below.
  if (plan.nbd) await runQmpSteps(qmp, [{ execute: 'nbd-server-stop', ifRefused: 'alreadySo' }], call);
  await runQmpSteps(qmp, [{ execute: 'x-colo-lost-heartbeat', ifRefused: 'alreadySo' }], call);
  const deadline = Date.now() + call.timeoutMs;
  let yanked = false;
  for (;;) {
    const colo = await queryColoStatus(qmp, call);
    if (colo.mode === 'none') break;
    if (!yanked && Date.now() > deadline - call.timeoutMs / 2) {
      await runQmpSteps(oob, [yankStep([{ type: 'migration' }])], { timeoutMs: 1_000 });
      yanked = true;
    }
    if (Date.now() > deadline) throw new ColoError(`still in COLO mode ${colo.mode} after x-colo-lost-heartbeat`, 'local');
    await sleep(1, call.signal);
  }
  for (const device of plan.devices) await runQmpSteps(qmp, device.secondary.takeOver(), call);
  const st = await queryStatus(qmp, call);
  if (!st.running) {
    await qmp.execute('cont', undefined, call);
    const again = await queryStatus(qmp, call);
    if (!again.running) throw new ColoError(`VM not running after takeover: run state ${again.status}`, 'local');
  }
}
