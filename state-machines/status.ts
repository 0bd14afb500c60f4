import type { CheckpointFigures, EventKind, NodeStatus, Role } from '../shared/nats/index.js';
import { CARRIED_PAUSES, checkpointRate, pauseStats, type CheckpointLog } from './checkpoint-figures.js';
import type { CheckpointContext } from './checkpoint.js';
import type { FailoverContext } from './failover.js';
import type { RestoreContext } from './restore.js';

/** What the agent last read from qemu: the live truth beats the config. */
export interface LiveQemu {
  qemuPid: number | null;
  qmpSocket: string;
  runState: string | null;
  coloMode: 'primary' | 'secondary' | 'none' | null;
  /** qemu carries TLS credentials for its data channels (read from its objects once per qemu); null: not known yet. */
  dataTls: boolean | null;
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

export interface FailoverSnapshotView {
  value: unknown;
  context: FailoverContext;
  hasTag(tag: string): boolean;
}

export interface RestoreSnapshotView {
  value: unknown;
  context: RestoreContext;
  hasTag(tag: string): boolean;
}

export interface NodeExtras {
  restore?: RestoreSnapshotView | null;
  epoch: number;
  role?: Role;
  transitions: readonly TransitionRecord[];
  failover?: FailoverSnapshotView;
  natsConnected?: boolean;
  heartbeatAgeMs?: number | null;
  /** Each NIC as qemu shows it (agent/reconcile/nic-live.ts). */
  nics?: NodeStatus['nics'];
}

/** A state value as a dotted path; `depth` stops at that many levels (a machine whose inner steps are one phase). */
export function phaseOf(value: unknown, depth = Infinity): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const [k, v] = Object.entries(value)[0] ?? ['unknown', undefined];
    return v === undefined || depth <= 1 ? k : `${k}.${phaseOf(v, depth - 1)}`;
  }
  return 'unknown';
}

/** The failover machine's phases are its top-level states: the claim's retry steps inside `claiming` are one phase. */
export const FAILOVER_PHASE_DEPTH = 1;

const round2 = (v: number): number => Math.round(v * 100) / 100;

function roundedPauseStats(log: CheckpointLog, now: number): Pick<CheckpointFigures, 'pauseMsP50' | 'pauseMsP99' | 'pausedFraction'> {
  const p = pauseStats(log, now);
  return {
    pauseMsP50: p.p50 === null ? null : round2(p.p50),
    pauseMsP99: p.p99 === null ? null : round2(p.p99),
    pausedFraction: p.pausedFraction === null ? null : Math.round(p.pausedFraction * 10_000) / 10_000,
  };
}

export function checkpointFigures(log: CheckpointLog, now: number): CheckpointFigures {
  return {
    count: log.count,
    ratePerSec: checkpointRate(log, now),
    lastPauseMs: log.lastPauseMs === null ? null : Math.round(log.lastPauseMs * 100) / 100,
    lastAgeMs: log.lastAt === null ? null : Math.max(0, now - log.lastAt),
    ...roundedPauseStats(log, now),
    recentPauses: log.window.slice(-CARRIED_PAUSES).map((c) => ({ at: c.at, ms: round2(c.pauseMs) })),
  };
}

function resyncView(r: RestoreSnapshotView): NonNullable<NodeStatus['resync']> {
  const c = r.context;
  return {
    phase: phaseOf(r.value),
    peer: c.peer,
    attempts: c.attempts,
    bytesDone: c.progress?.bytesDone ?? 0,
    bytesTotal: c.progress?.bytesTotal ?? 0,
    rateBytesPerSec: c.progress?.rateBytesPerSec ?? 0,
    etaMs: c.progress?.etaMs ?? null,
    startedAt: c.startedAt,
    resyncStartedAt: c.resyncStartedAt,
    resyncReadyAt: c.resyncReadyAt,
    pauseMs: c.pauseMs === null ? null : Math.round(c.pauseMs * 100) / 100,
    doneAt: c.doneAt,
  };
}

/** The role this node plays now: the failover machine's once it has acted; none once fenced or down. */
function currentRole(snapshot: CheckpointSnapshotView, extra: NodeExtras): Role {
  const fo = extra.failover;
  if (fo && (fo.hasTag('fenced') || fo.hasTag('down'))) return 'none';
  return extra.role ?? fo?.context.role ?? snapshot.context.role;
}

function replicationViews(ctx: CheckpointContext, now: number): Pick<NodeStatus, 'replication' | 'disks'> {
  const r = ctx.replication;
  if (!r) return { replication: null, disks: [] };
  const checkedAgoMs = Math.max(0, now - r.checkedAt);
  return {
    replication: { state: r.state, reason: r.reason, checkedAgoMs },
    disks: r.disks.map((d) => ({ index: d.index, replication: { state: d.state, reason: d.reason, checkedAgoMs } })),
  };
}

export function toNodeStatus(snapshot: CheckpointSnapshotView, live: LiveQemu, extra: NodeExtras, now: number): NodeStatus {
  const ctx = snapshot.context;
  const fo = extra.failover;
  const failoverActed = fo !== undefined && !fo.hasTag('watching');
  const failoverSpeaks = fo !== undefined && (failoverActed || fo.hasTag('passive') || !fo.context.natsUp || fo.context.peerSilent || fo.hasTag('standingBy'));
  // Proven from qemu: the COLO mode it reports and an audit of its block graph, not what the agent sent it.
  const replicating = ctx.replication !== null && ctx.replication.state !== 'degraded';
  const isProtected = !failoverActed && snapshot.hasTag('protected') && replicating && live.coloMode === ctx.role && live.qemuPid !== null;
  const restoring = extra.restore?.hasTag('restoring') ? extra.restore : null;
  return {
    vm: ctx.vm,
    node: ctx.node,
    role: currentRole(snapshot, extra),
    phase: restoring ? phaseOf(restoring.value) : failoverActed ? phaseOf(fo.value, FAILOVER_PHASE_DEPTH) : phaseOf(snapshot.value),
    protected: isProtected,
    degraded: snapshot.hasTag('degraded') || failoverActed,
    reason: restoring ? restoring.context.reason : failoverSpeaks ? fo.context.reason : ctx.reason,
    epoch: extra.epoch,
    qemuPid: live.qemuPid,
    qmpSocket: live.qmpSocket,
    runState: live.runState,
    coloMode: live.coloMode,
    dataTls: live.dataTls,
    checkpoints: checkpointFigures(ctx.checkpoints, now),
    transitions: extra.transitions.slice(-20).map((t) => ({ ...t })),
    natsConnected: extra.natsConnected ?? true,
    ...replicationViews(ctx, now),
    nics: (extra.nics ?? []).map((n) => ({ ...n, objects: [...n.objects] })),
    resync: extra.restore ? resyncView(extra.restore) : null,
    heartbeatAgeMs: extra.heartbeatAgeMs ?? null,
    failover: fo
      ? {
          phase: phaseOf(fo.value, FAILOVER_PHASE_DEPTH),
          trigger: fo.context.trigger,
          detectedAt: fo.context.detectedAt,
          leaseWonAt: fo.context.leaseWonAt,
          takeoverAt: fo.context.takeoverAt,
          takeoverSteps: fo.context.takeoverSteps,
        }
      : null,
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
  replication: NodeStatus['replication'];
  disks: NodeStatus['disks'];
  nics: NodeStatus['nics'];
  /** Read from qemu: its NBD export and COLO stream use mutual TLS (false: they accept anyone; null: not known). */
  dataTls: boolean | null;
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

const NO_CHECKPOINTS: CheckpointFigures = { count: 0, ratePerSec: 0, lastPauseMs: null, lastAgeMs: null, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] };

/** Merge what each node reports about one VM; a node that did not answer is shown as unreachable. */
export function mergeVmStatus(vm: string, nodeNames: readonly string[], reports: readonly NodeStatus[]): VmStatus {
  const byNode = new Map(reports.filter((r) => r.vm === vm).map((r) => [r.node, r]));
  const nodes: VmNodeView[] = nodeNames.map((name) => {
    const r = byNode.get(name);
    if (!r) {
      return { node: name, reachable: false, role: null, phase: null, reason: `agent on ${name} did not answer`, qemuPid: null, qmpSocket: null, runState: null, coloMode: null, checkpoints: null, replication: null, disks: [], nics: [], dataTls: null };
    }
    return { node: name, reachable: true, role: r.role, phase: r.phase, reason: r.reason, qemuPid: r.qemuPid, qmpSocket: r.qmpSocket, runState: r.runState, coloMode: r.coloMode, checkpoints: r.checkpoints, replication: r.replication, disks: r.disks, nics: r.nics, dataTls: r.dataTls };
  });
  const mine = reports.filter((r) => r.vm === vm && nodeNames.includes(r.node));
  // After a failover only the newest epoch's primary counts.
  const primary = mine.filter((r) => r.role === 'primary').sort((a, b) => b.epoch - a.epoch)[0];
  const secondary = mine.find((r) => r.role === 'secondary');
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
    epoch: Math.max(0, ...mine.map((r) => r.epoch)),
    nodes,
    checkpoints: primary?.checkpoints ?? NO_CHECKPOINTS,
  };
}

/** The tags a machine had before and after one change of phase. */
export interface TagChange {
  before: ReadonlySet<string>;
  after: ReadonlySet<string>;
}

/** Which changes are events worth announcing on the events subject, read from the machines' tags. Pure. */
export function eventForTransition(machine: 'checkpoint' | 'failover' | 'restore', t: TagChange): EventKind | null {
  const gained = (tag: string): boolean => t.after.has(tag) && !t.before.has(tag);
  const lost = (tag: string): boolean => t.before.has(tag) && !t.after.has(tag);
  if (machine === 'restore') {
    if (gained('resyncing')) return 'resync-started';
    if (gained('inSync')) return 'resync-done';
    return null;
  }
  if (machine === 'checkpoint') {
    if (gained('unreplicated')) return 'replication-degraded';
    if (lost('unreplicated')) return t.after.has('protected') ? 'replication-verified' : 'unprotected';
    if (gained('protected') && !t.before.has('coloUp')) return 'protected';
    if (lost('coloUp')) return 'unprotected';
    return null;
  }
  if (gained('failingOver')) return t.before.has('steady') ? 'failover-started' : null;
  if (gained('alone')) return 'takeover-done';
  if (gained('paused')) return 'fenced';
  if (gained('stopped')) return 'qemu-lost';
  return null;
}
