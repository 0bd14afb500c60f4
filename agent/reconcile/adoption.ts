import type { ReconcileOutput } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import { adoptVm, findNode, planVm, qemuNameOf, type VmInstance } from '../../shared/qemu/index.js';
import { queryBlockJobs, queryColoStatus, queryStatus } from '../../shared/qmp/index.js';

export interface ReconcileProbe {
  config: Config;
  nodeName: string;
  vmName: string;
  kvmUsable: boolean;
  lease: Lease;
  log: Logger;
}

/** What the live system says: the VM machine's start, and the qemu to adopt when there is one. */
export interface Reconciled extends ReconcileOutput {
  vm: VmInstance | null;
}

/**
 * Startup reconciliation: if an earlier agent left this VM's qemu running,
 * adopt it instead of starting a second one. The live state decides the role
 * (COLO mode as qemu reports it, then the lease); only queries are sent, and
 * nothing is set anywhere: the result is the VM machine's input.
 */
export async function reconcile(p: ReconcileProbe): Promise<Reconciled> {
  const initial = findNode(p.config, p.nodeName).initialRole;
  // The run directory and socket paths do not depend on the role.
  const probePlan = planVm(p.config, p.vmName, p.nodeName, initial, p.kvmUsable);
  const found = await adoptVm({ plan: probePlan, qemuName: qemuNameOf(p.config.pair, p.vmName), qmpTimeoutMs: p.config.timings.qmpTimeoutMs, log: p.log });
  if (found.kind === 'stranger') p.log.warn({ reason: found.reason }, 'not adopting: the pid file points at another process');
  if (found.kind === 'none' || found.kind === 'stranger') return { vm: null, role: await startupRole(p.config, p.nodeName, p.lease, p.log), start: { kind: 'fresh' } };
  if (found.kind === 'unresponsive') {
    // Never start a second copy beside a live one: stay hands-off and say so.
    return { vm: null, role: initial, start: { kind: 'hold', reason: `${found.reason}; not starting another qemu: operator action needed` } };
  }
  const vm = found.vm;
  const call = { timeoutMs: p.config.timings.qmpTimeoutMs };
  const [status, colo, jobs, lease] = await Promise.all([queryStatus(vm.qmp, call), queryColoStatus(vm.qmp, call), queryBlockJobs(vm.qmp, call), p.lease.read().catch(() => null)]);
  const leaseMine = lease?.holder === p.nodeName;
  const role = colo.mode === 'primary' ? 'primary' : colo.mode === 'secondary' ? 'secondary' : leaseMine ? 'primary' : 'secondary';
  const what = `adopted the running qemu (pid ${vm.proc.pid}, ${status.status}, COLO ${colo.mode}${jobs.length ? `, ${jobs.length} block job(s)` : ''})`;
  p.log.warn({ pid: vm.proc.pid, runState: status.status, coloMode: colo.mode, role, lease: lease?.holder ?? null }, 'adopted a running qemu');
  const reclaimLease = role === 'primary';
  if (colo.mode !== 'none') return { vm, role, start: { kind: 'resume', reason: `${what}: COLO running`, reclaimLease } };
  return { vm, role, start: { kind: 'hold', reason: `${what}: not in COLO; restore protection with colo-ft restore`, reclaimLease } };
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
