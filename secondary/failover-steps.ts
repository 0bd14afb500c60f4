import { ColoError } from '../shared/errors.js';
import { sleep, type VmPlan } from '../shared/qemu/index.js';
import { queryColoStatus, queryStatus, type QmpClient } from '../shared/qmp/index.js';

interface Call {
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Primary lost: stop serving the NBD target, leave COLO and run on as the
 * only copy (colo-procedure.md, Failover). If the COLO thread is stuck on a
 * frozen primary, the migration link is yanked out-of-band.
 */
export async function takeOver(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: Call): Promise<void> {
  if (plan.nbd) await qmp.execute('nbd-server-stop', undefined, call).catch(() => undefined);
  await qmp.execute('x-colo-lost-heartbeat', undefined, call).catch((e: unknown) => {
    // Already out of COLO (qemu failed over on its own error path): fine, verified below.
    if (!(e instanceof Error && /not (enabled|active)|COLO/i.test(e.message))) throw e;
  });
  const deadline = Date.now() + call.timeoutMs;
  let yanked = false;
  for (;;) {
    const colo = await queryColoStatus(qmp, call);
    if (colo.mode === 'none') break;
    if (!yanked && Date.now() > deadline - call.timeoutMs / 2) {
      await oob.executeOob('yank', { instances: [{ type: 'migration' }] }, { timeoutMs: 1_000 }).catch(() => undefined);
      yanked = true;
    }
    if (Date.now() > deadline) throw new ColoError(`still in COLO mode ${colo.mode} after x-colo-lost-heartbeat`, 'local');
    await sleep(1, call.signal);
  }
  const st = await queryStatus(qmp, call);
  if (!st.running) {
    await qmp.execute('cont', undefined, call);
    const again = await queryStatus(qmp, call);
    if (!again.running) throw new ColoError(`VM not running after takeover: run state ${again.status}`, 'local');
  }
}
