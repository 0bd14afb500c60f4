import type { Config } from '../../shared/config/index.js';
import { auditPrimaryDisk, auditSecondaryDisk, combineAudit, type ReplicationAudit } from '../../shared/disk/index.js';
import { peerOf, planVm, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { queryBlockExports, queryBlockGraph, queryColoStatus, queryNamedBlockNodes } from '../../shared/qmp/index.js';

export interface TimedAudit extends ReplicationAudit {
  checkedAt: number;
  /** QMP time the round took, for bench:audit. */
  costMs: number;
}

/**
 * One audit round on this node's qemu: four read-only QMP queries, judged by
 * the pure auditor in shared/disk. The primary's expected NBD target is the
 * peer's export as the config places it on whichever node is secondary now.
 */
export async function auditReplication(
  vm: VmInstance,
  plan: VmPlan,
  config: Config,
  o: { timeoutMs: number; signal?: AbortSignal; kvmUsable: boolean; missedWrites?: ReadonlyMap<number, string> },
): Promise<TimedAudit> {
  return auditAgainst(vm, plan, plan.role === 'primary' ? peerTargets(config, plan, o.kvmUsable) : new Map(), o);
}

export type NbdTarget = { host: string; port: number; exportName: string };

/** Where the primary's replication children must write: the peer's exports, as the config places them on the current secondary. */
export function peerTargets(config: Config, plan: VmPlan, kvmUsable: boolean): Map<number, NbdTarget> {
  const peer = planVm(config, plan.vm, peerOf(config, plan.node).name, 'secondary', kvmUsable);
  return new Map(peer.disks.map((p) => [p.index, { host: peer.nbd?.host ?? '', port: peer.nbd?.port ?? 0, exportName: p.exportName ?? '' }]));
}

export async function auditAgainst(
  vm: VmInstance,
  plan: VmPlan,
  targets: ReadonlyMap<number, NbdTarget>,
  o: { timeoutMs: number; signal?: AbortSignal; missedWrites?: ReadonlyMap<number, string> },
): Promise<TimedAudit> {
  const call = { timeoutMs: o.timeoutMs, signal: o.signal };
  const t0 = performance.now();
  const [graph, named, exports, colo] = await Promise.all([
    queryBlockGraph(vm.qmp, call),
    queryNamedBlockNodes(vm.qmp, call),
    plan.role === 'secondary' ? queryBlockExports(vm.qmp, call) : Promise.resolve([]),
    queryColoStatus(vm.qmp, call),
  ]);
  const costMs = performance.now() - t0;
  const input = { graph, named, exports };
  const colos = plan.disks.filter((d) => d.layout !== 'plain');
  let disks;
  if (plan.role === 'primary') {
    disks = colos.map((d) => {
      const verdict = auditPrimaryDisk(input, { index: d.index, ids: d.ids, target: targets.get(d.index) ?? { host: '', port: 0, exportName: '' } });
      // The graph can look right while the child drops writes (e.g. linked after COLO started replication): qemu said so.
      const missed = o.missedWrites?.get(d.index);
      return missed && verdict.state === 'replicating' ? { index: d.index, state: 'degraded' as const, reason: `disk ${d.index}: ${missed}; the secondary's copy misses it until a resync` } : verdict;
    });
  } else {
    disks = colos.map((d) => auditSecondaryDisk(input, { index: d.index, ids: d.ids, activePath: d.activePath ?? '', hiddenPath: d.hiddenPath ?? '' }));
  }
  return { ...combineAudit(colo.mode, plan.role, disks), checkedAt: Date.now(), costMs };
}
