import type { Config } from '../shared/config/index.js';
import { agentStatusReplySchema, subjects, type Bus, type NodeStatus } from '../shared/nats/index.js';
import { mergeVmStatus, type VmStatus } from '../state-machines/index.js';

export interface PairStatus {
  vms: VmStatus[];
  /** Nodes whose agent answered. */
  answered: string[];
  /** Nodes whose agent did not, with why. */
  silent: Array<{ node: string; reason: string }>;
}

/** One node's view of one VM, or null when its agent does not answer. */
export async function queryNodeStatus(bus: Bus, pair: string, node: string, vm: string, timeoutMs = 1_000): Promise<NodeStatus | null> {
  try {
    const reply = await bus.request(subjects.agentStatus(pair, node), {}, agentStatusReplySchema, { timeoutMs });
    return reply.vms.find((v) => v.vm === vm) ?? null;
  } catch {
    return null;
  }
}

/** Ask every node's agent for its view, then merge per VM. The CLI never speaks QMP. */
export async function queryPairStatus(bus: Bus, config: Config, timeoutMs: number): Promise<PairStatus> {
  const nodeNames = config.nodes.map((n) => n.name);
  const results = await Promise.allSettled(
    nodeNames.map((node) => bus.request(subjects.agentStatus(config.pair, node), {}, agentStatusReplySchema, { timeoutMs })),
  );
  const reports: NodeStatus[] = [];
  const answered: string[] = [];
  const silent: PairStatus['silent'] = [];
  results.forEach((r, i) => {
    const node = nodeNames[i]!;
    if (r.status === 'fulfilled') {
      answered.push(node);
      reports.push(...r.value.vms);
    } else {
      silent.push({ node, reason: r.reason instanceof Error ? r.reason.message : String(r.reason) });
    }
  });
  return { vms: config.vms.map((vm) => mergeVmStatus(vm.name, nodeNames, reports)), answered, silent };
}
