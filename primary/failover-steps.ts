import { ColoError } from '../shared/errors.js';
import type { VmPlan } from '../shared/qemu/index.js';
import { sleep } from '../shared/qemu/index.js';
import { queryColoStatus, queryStatus, type QmpClient } from '../shared/qmp/index.js';
import { hmpStrict, type Call } from './steps.js';


/**
 * Cut the links to a lost secondary out-of-band first: a checkpoint or an NBD
 * write blocked on a frozen peer would otherwise hold the main monitor. Errors
 * are expected when the link is already gone (crash) and are ignored.
 */
async function yankReplicationLinks(oob: QmpClient, plan: VmPlan, call: Call): Promise<void> {
  const instances = [
    ...plan.disks.filter((d) => d.layout !== 'plain').map((d) => ({ type: 'block-node', 'node-name': d.ids.nbdNode })),
    { type: 'migration' },
  ];
  await oob.executeOob('yank', { instances }, call).catch(() => undefined);
}

/**
 * Secondary lost: the primary drops the replication child of every disk,
 * leaves COLO and runs on alone (colo-procedure.md, Failover).
 */
export async function carryOnAlone(qmp: QmpClient, oob: QmpClient, plan: VmPlan, call: Call): Promise<void> {
  await yankReplicationLinks(oob, plan, { timeoutMs: 1_000, signal: call.signal });
  for (const d of plan.disks) {
    if (d.layout === 'plain') continue;
    // Absent when the child was never attached (lost before protection): nothing to drop.
    await qmp.execute('x-blockdev-change', { parent: d.ids.top, child: 'children.1' }, call).catch(() => undefined);
    await hmpStrict(qmp, `drive_del ${d.ids.replicationNode}`, call).catch(() => undefined);
  }
  const colo = await queryColoStatus(qmp, call);
  if (colo.mode !== 'none') {
    await qmp.execute('x-colo-lost-heartbeat', undefined, call);
    await awaitNoColo(qmp, call);
  }
  await ensureRunning(qmp, call);
}

async function awaitNoColo(qmp: QmpClient, call: Call): Promise<void> {
  for (;;) {
    const colo = await queryColoStatus(qmp, call);
    if (colo.mode === 'none') return;
    await sleep(2, call.signal);
  }
}

/** After leaving COLO the VM must be running; a paused VM here would be an outage. */
export async function ensureRunning(qmp: QmpClient, call: Call): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const st = await queryStatus(qmp, call);
    if (st.running) return;
    // COLO's checkpoint pause ends by itself; only a VM stopped for good needs `cont`.
    if (st.status === 'paused' || st.status === 'postmigrate') await qmp.execute('cont', undefined, call).catch(() => undefined);
    await sleep(2, call.signal);
  }
  const st = await queryStatus(qmp, call);
  throw new ColoError(`VM not running after failover: run state ${st.status}`, 'local');
}

