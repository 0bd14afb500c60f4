import type { Config } from '../../shared/config/index.js';
import type { ReplicationPeer } from '../../shared/device/index.js';
import { combineAudit, type DiskAudit, type ReplicationAudit } from '../../shared/disk/index.js';
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
  return auditAgainst(vm, plan, plan.role === 'primary' ? peerEndpoints(config, plan, o.kvmUsable) : null, o);
}

/** Where the primary's replication must write: the peer's endpoints, as the config places them on the current secondary. */
export function peerEndpoints(config: Config, plan: VmPlan, kvmUsable: boolean): ReplicationPeer {
  const peer = planVm(config, plan.vm, peerOf(config, plan.node).name, 'secondary', kvmUsable);
  return { node: peer.node, nbd: peer.nbd ?? { host: '', port: 0 }, disks: peer.disks.map((d) => ({ index: d.index, exportName: d.exportName ?? '' })) };
}

/** Each replicated device judges itself from the same four read-only queries (the primary against `peer`). */
export async function auditAgainst(
  vm: VmInstance,
  plan: VmPlan,
  peer: ReplicationPeer | null,
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
  const verdicts = plan.devices.map((d) => (plan.role === 'primary' ? d.primary.audit(input, peer ?? NO_PEER) : d.secondary.audit(input)));
  const disks = verdicts.filter((v): v is DiskAudit => v !== null).map((verdict) => {
    // The graph can look right while the child drops writes (e.g. linked after COLO started replication): qemu said so.
    const missed = plan.role === 'primary' ? o.missedWrites?.get(verdict.index) : undefined;
    return missed && verdict.state === 'replicating' ? { index: verdict.index, state: 'degraded' as const, reason: `disk ${verdict.index}: ${missed}; the secondary's copy misses it until a resync` } : verdict;
  });
  return { ...combineAudit(colo.mode, plan.role, disks), checkedAt: Date.now(), costMs };
}

const NO_PEER: ReplicationPeer = { node: '', nbd: { host: '', port: 0 }, disks: [] };
