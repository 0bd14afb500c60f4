import type { CheckpointFigures, NodeStatus, Role } from '../shared/nats/index.js';
import { checkpointRate, type CheckpointLog } from './checkpoint-figures.js';
import type { CheckpointContext } from './checkpoint.js';

/** What the agent last read from qemu: the live truth beats the config. */
export interface LiveQemu {
  qemuPid: number | null;
  qmpSocket: string;
  runState: string | null;
  coloMode: 'primary' | 'secondary' | 'none' | null;
}

export interface TransitionRecord {
  at: number;
  from: string;
  to: string;
  reason: string;
}

/** The slice of an xstate snapshot the status needs (kept structural so tests can pass plain objects). */
export interface CheckpointSnapshotView {
  value: unknown;
  context: CheckpointContext;
  hasTag(tag: string): boolean;
}

export function phaseOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? ['unknown', undefined];
    return v === undefined ? k : `${k}.${phaseOf(v)}`;
  }
  return 'unknown';
}

export function checkpointFigures(log: CheckpointLog, now: number): CheckpointFigures {
  return {
    count: log.count,
    ratePerSec: checkpointRate(log, now),
    lastPauseMs: log.lastPauseMs === null ? null : Math.round(log.lastPauseMs * 100) / 100,
    lastAgeMs: log.lastAt === null ? null : Math.max(0, now - log.lastAt),
  };
}

export function toNodeStatus(
  snapshot: CheckpointSnapshotView,
  live: LiveQemu,
  extra: { epoch: number; role?: Role; transitions: readonly TransitionRecord[] },
  now: number,
): NodeStatus {
  const ctx = snapshot.context;
  const isProtected =
    snapshot.hasTag('protected') && live.coloMode === ctx.role && live.qemuPid !== null;
  return {
    vm: ctx.vm,
    node: ctx.node,
    role: extra.role ?? ctx.role,
    phase: phaseOf(snapshot.value),
    protected: isProtected,
    degraded: snapshot.hasTag('degraded'),
    reason: ctx.reason,
    epoch: extra.epoch,
    qemuPid: live.qemuPid,
    qmpSocket: live.qmpSocket,
    runState: live.runState,
    coloMode: live.coloMode,
    checkpoints: checkpointFigures(ctx.checkpoints, now),
    transitions: extra.transitions.slice(-20).map((t) => ({ ...t })),
    sentAt: now,
  };
}

export interface VmNodeView {
  node: string;
  reachable: boolean;
  role: Role | null;
  phase: string | null;
  reason: string | null;
  qemuPid: number | null;
  qmpSocket: string | null;
  runState: string | null;
  coloMode: 'primary' | 'secondary' | 'none' | null;
  checkpoints: CheckpointFigures | null;
}

/** The pair's status for one VM, as `colo-ft status --json` prints it. */
export interface VmStatus {
  vm: string;
  protected: boolean;
  phase: string;
  reason: string;
  epoch: number;
  nodes: VmNodeView[];
  checkpoints: CheckpointFigures;
}

const NO_CHECKPOINTS: CheckpointFigures = { count: 0, ratePerSec: 0, lastPauseMs: null, lastAgeMs: null };

/** Merge what each node reports about one VM; a node that did not answer is shown as unreachable. */
export function mergeVmStatus(vm: string, nodeNames: readonly string[], reports: readonly NodeStatus[]): VmStatus {
  const byNode = new Map(reports.filter((r) => r.vm === vm).map((r) => [r.node, r]));
  const nodes: VmNodeView[] = nodeNames.map((name) => {
    const r = byNode.get(name);
    if (!r) {
      return { node: name, reachable: false, role: null, phase: null, reason: `agent on ${name} did not answer`, qemuPid: null, qmpSocket: null, runState: null, coloMode: null, checkpoints: null };
    }
    return { node: name, reachable: true, role: r.role, phase: r.phase, reason: r.reason, qemuPid: r.qemuPid, qmpSocket: r.qmpSocket, runState: r.runState, coloMode: r.coloMode, checkpoints: r.checkpoints };
  });
  const primary = reports.find((r) => r.vm === vm && r.role === 'primary');
  const secondary = reports.find((r) => r.vm === vm && r.role === 'secondary');
  const isProtected = Boolean(primary?.protected && secondary?.protected);
  const lead = primary ?? secondary;
  const firstProblem =
    nodes.find((n) => !n.reachable)?.reason ??
    [primary, secondary].find((r) => r && !r.protected)?.reason ??
    (primary ? undefined : 'no node runs this VM as primary');
  return {
    vm,
    protected: isProtected,
    phase: lead?.phase ?? 'unknown',
    reason: isProtected ? (primary?.reason ?? 'protected') : (firstProblem ?? lead?.reason ?? 'unknown'),
    epoch: Math.max(0, ...reports.filter((r) => r.vm === vm).map((r) => r.epoch)),
    nodes,
    checkpoints: primary?.checkpoints ?? NO_CHECKPOINTS,
  };
}
