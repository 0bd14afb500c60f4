import type { VmStatus } from '../../state-machines/index.js';

/** The VM status when protected; otherwise an error that says, per node, why not (so a timed-out wait names the cause). */
export function protectedOrWhy(vm: VmStatus | undefined): VmStatus {
  if (!vm) throw new Error('no status for the VM');
  if (vm.protected) return vm;
  const nodes = vm.nodes.map((n) => `${n.node} ${n.role ?? '-'}/${n.phase ?? '-'} colo ${n.coloMode ?? '-'} run ${n.runState ?? '-'} replication ${n.replication?.state ?? '-'}: ${n.reason}`);
  throw new Error(`not protected (${vm.reason}); ${nodes.join('; ')}`);
}
