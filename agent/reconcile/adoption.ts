import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import { adoptVm, findNode, planVm, qemuNameOf, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { queryBlockJobs, queryColoStatus, queryStatus } from '../../shared/qmp/index.js';
import type { FailoverController } from '../effects/failover-controller.js';

export interface AdoptionHost {
  config: Config;
  nodeName: string;
  vmName: string;
  kvmUsable: boolean;
  lease: Lease;
  log: Logger;
  begin(role: 'primary' | 'secondary', plan: VmPlan): FailoverController;
  attachVm(vm: VmInstance): void;
  startCheckpoint(mode: 'resume' | 'hold', reason: string): void;
}

/**
 * Startup reconciliation: if an earlier agent left this VM's qemu running,
 * take it over instead of starting a second one. The live state decides the
 * role (COLO mode as qemu reports it, then the lease); only queries are sent.
 * Returns false when there is nothing to adopt (or only a stranger's pid).
 */
export async function adoptRunningQemu(h: AdoptionHost): Promise<boolean> {
  const initial = findNode(h.config, h.nodeName).initialRole;
  // The run directory and socket paths do not depend on the role.
  const probePlan = planVm(h.config, h.vmName, h.nodeName, initial, h.kvmUsable);
  const found = await adoptVm({ plan: probePlan, qemuName: qemuNameOf(h.config.pair, h.vmName), qmpTimeoutMs: h.config.timings.qmpTimeoutMs, log: h.log });
  if (found.kind === 'none') return false;
  if (found.kind === 'stranger') {
    h.log.warn({ reason: found.reason }, 'not adopting: the pid file points at another process');
    return false;
  }
  if (found.kind === 'unresponsive') {
    // Never start a second copy beside a live one: stay hands-off and say so.
    h.begin(initial, probePlan);
    h.startCheckpoint('hold', `${found.reason}; not starting another qemu: operator action needed`);
    return true;
  }
  const vm = found.vm;
  const call = { timeoutMs: h.config.timings.qmpTimeoutMs };
  const [status, colo, jobs, lease] = await Promise.all([queryStatus(vm.qmp, call), queryColoStatus(vm.qmp, call), queryBlockJobs(vm.qmp, call), h.lease.read().catch(() => null)]);
  const leaseMine = lease?.holder === h.nodeName;
  const role: 'primary' | 'secondary' = colo.mode === 'primary' ? 'primary' : colo.mode === 'secondary' ? 'secondary' : leaseMine ? 'primary' : 'secondary';
  const plan = planVm(h.config, h.vmName, h.nodeName, role, h.kvmUsable);
  const failover = h.begin(role, plan);
  h.attachVm(vm);
  const what = `adopted the running qemu (pid ${vm.proc.pid}, ${status.status}, COLO ${colo.mode}${jobs.length ? `, ${jobs.length} block job(s)` : ''})`;
  h.log.warn({ pid: vm.proc.pid, runState: status.status, coloMode: colo.mode, role, lease: lease?.holder ?? null }, 'adopted a running qemu');
  if (role === 'primary') {
    // The lease is ours to keep (renew by CAS); if someone else holds it now, the failover machine fences.
    await failover.claimForPrimary(AbortSignal.timeout(h.config.timings.qmpTimeoutMs)).catch((e: unknown) => {
      failover.actor.send({ type: 'LEASE_LOST', reason: `cannot hold the lease after adoption: ${errorMessage(e)}` });
    });
  }
  if (colo.mode !== 'none') h.startCheckpoint('resume', `${what}: COLO running`);
  else h.startCheckpoint('hold', `${what}: not in COLO; restore protection with colo-ft restore`);
  return true;
}

/** Without a qemu to adopt: a node whose peer holds a live lease starts as secondary, whatever the config's initial role says. */
export async function startupRole(config: Config, nodeName: string, lease: Lease, log: Logger): Promise<'primary' | 'secondary'> {
  const initial = findNode(config, nodeName).initialRole;
  try {
    const held = await lease.read();
    if (held && held.holder && held.holder !== nodeName && held.expiresAtMs > Date.now()) {
      if (initial === 'primary') log.warn({ holder: held.holder, epoch: held.epoch }, 'the peer holds the lease: starting as secondary');
      return 'secondary';
    }
  } catch (e) {
    log.warn({ reason: errorMessage(e) }, 'cannot read the lease at start: using the configured role');
  }
  return initial;
}
