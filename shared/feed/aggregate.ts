import type { ColoEvent, FeedNode, FeedVmStatus, NodeStatus } from '../nats/index.js';
import { mergeVmStatus } from '../../state-machines/index.js';

/**
 * The dashboard feed's state: the latest NodeStatus per pair/vm/node, merged
 * per VM into the `colo-ft status --json` shape plus the dashboard's extras.
 * Pure: no I/O and no clock (every call takes `now`), so it is unit-tested
 * with plain messages. The source (NATS) and the sinks (SSE, metrics, the
 * terminal) sit around it.
 */
export interface AggregatorOptions {
  /** A node whose last status is older than this counts as unreachable (agents publish every 2 s). */
  staleAfterMs?: number;
  /** Checkpoint pauses kept per VM for the chart. */
  pauseSamples?: number;
  /** Events kept per VM for the timeline. */
  maxEvents?: number;
  /** Transitions kept per node in the feed. */
  maxTransitions?: number;
  /** Nodes a pair is known to have (from a config): shown even before they report. */
  nodesOf?: (pair: string) => readonly string[] | undefined;
}

export interface LeaseInfo {
  holder: string | null;
  epoch: number;
  expiresAtMs: number;
}

/**
 * The pauses of the checkpoints a status reports that the previous one from
 * that node did not: each checkpoint once, from the times the status carries
 * (an agent without them gives only its last pause).
 */
export function newPauses(s: NodeStatus, previous: NodeStatus | undefined): number[] {
  const carried = s.checkpoints.recentPauses;
  if (carried.length === 0) return s.checkpoints.lastPauseMs === null ? [] : [s.checkpoints.lastPauseMs];
  const seenUpTo = previous?.role === 'primary' ? Math.max(-Infinity, ...previous.checkpoints.recentPauses.map((p) => p.at)) : -Infinity;
  const fresh = carried.filter((p) => p.at > seenUpTo).map((p) => p.ms);
  // A first status from a node (or after it became primary) charts only what the count grew by.
  return seenUpTo === -Infinity && previous?.role !== 'primary' ? fresh.slice(-1) : fresh;
}

interface NodeSeen {
  status: NodeStatus;
  receivedAt: number;
}

interface VmEntry {
  pair: string;
  vm: string;
  nodes: Map<string, NodeSeen>;
  pauses: number[];
  /** Checkpoint count last sampled per node, so each checkpoint's pause is charted once. */
  sampledCount: Map<string, number>;
  events: ColoEvent[];
  lease: LeaseInfo | null;
  /** Which node was primary under which epoch: the "from" of a failover's direction. */
  primaryByEpoch: Map<number, string>;
  updatedAt: number;
}

export const vmKey = (pair: string, vm: string): string => `${pair}/${vm}`;

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

export class FeedAggregator {
  private readonly vms = new Map<string, VmEntry>();
  private readonly staleAfterMs: number;
  private readonly pauseSamples: number;
  private readonly maxEvents: number;
  private readonly maxTransitions: number;

  constructor(private readonly o: AggregatorOptions = {}) {
    this.staleAfterMs = o.staleAfterMs ?? 7_000;
    this.pauseSamples = o.pauseSamples ?? 60;
    this.maxEvents = o.maxEvents ?? 30;
    this.maxTransitions = o.maxTransitions ?? 5;
  }

  private entry(pair: string, vm: string, now: number): VmEntry {
    const key = vmKey(pair, vm);
    let e = this.vms.get(key);
    if (!e) {
      e = { pair, vm, nodes: new Map(), pauses: [], sampledCount: new Map(), events: [], lease: null, primaryByEpoch: new Map(), updatedAt: now };
      this.vms.set(key, e);
    }
    return e;
  }

  /** The node's previous status (or undefined); an older message than the one held is ignored (returns null). */
  applyStatus(pair: string, s: NodeStatus, now: number): { key: string; previous: NodeStatus | undefined } | null {
    const e = this.entry(pair, s.vm, now);
    const held = e.nodes.get(s.node);
    if (held && held.status.sentAt > s.sentAt) return null;
    e.nodes.set(s.node, { status: s, receivedAt: now });
    e.updatedAt = now;
    // A node taking over reports primary under the old epoch for a moment: it must not displace the
    // primary of that epoch (the failover label would read beta->beta). A protected primary is unambiguous.
    if (s.role === 'primary' && (!e.primaryByEpoch.has(s.epoch) || s.protected)) e.primaryByEpoch.set(s.epoch, s.node);
    const sampled = e.sampledCount.get(s.node);
    const count = s.checkpoints.count;
    if (sampled === undefined || count < sampled) e.sampledCount.set(s.node, count);
    else if (count > sampled) {
      e.sampledCount.set(s.node, count);
      if (s.role === 'primary') {
        const fresh = newPauses(s, held?.status);
        if (fresh.length > 0) e.pauses = [...e.pauses, ...fresh].slice(-this.pauseSamples);
      }
    }
    return { key: vmKey(pair, s.vm), previous: held?.status };
  }

  /** Returns false for an event already held (the same node, kind and time). */
  applyEvent(ev: ColoEvent, now: number): boolean {
    const e = this.entry(ev.pair, ev.vm, now);
    if (e.events.some((x) => x.node === ev.node && x.kind === ev.kind && x.at === ev.at)) return false;
    e.events = [...e.events, ev].sort((a, b) => a.at - b.at).slice(-this.maxEvents);
    e.updatedAt = now;
    return true;
  }

  applyLease(pair: string, vm: string, lease: LeaseInfo | null, now: number): void {
    const e = this.entry(pair, vm, now);
    e.lease = lease;
    e.updatedAt = now;
  }

  /** The node that was primary before `epoch` (the highest lower epoch), for a failover's direction. */
  primaryBefore(pair: string, vm: string, epoch: number): string | null {
    const e = this.vms.get(vmKey(pair, vm));
    if (!e) return null;
    const older = [...e.primaryByEpoch].filter(([ep]) => ep < epoch).sort((a, b) => b[0] - a[0]);
    return older[0]?.[1] ?? null;
  }

  has(key: string): boolean {
    return this.vms.has(key);
  }

  keys(): string[] {
    return [...this.vms.keys()];
  }

  get size(): number {
    return this.vms.size;
  }

  /** Every VM, sorted by pair then VM name (numeric-aware: vm2 before vm10). */
  views(now: number): FeedVmStatus[] {
    return [...this.vms.values()]
      .sort((a, b) => byName(a.pair, b.pair) || byName(a.vm, b.vm))
      .map((e) => this.render(e, now));
  }

  view(key: string, now: number): FeedVmStatus | null {
    const e = this.vms.get(key);
    return e ? this.render(e, now) : null;
  }

  private render(e: VmEntry, now: number): FeedVmStatus {
    const known = this.o.nodesOf?.(e.pair) ?? [];
    const names = [...new Set([...known, ...e.nodes.keys()])].sort(byName);
    const fresh = [...e.nodes.values()].filter((n) => now - n.receivedAt <= this.staleAfterMs).map((n) => n.status);
    const merged = mergeVmStatus(e.vm, names, fresh);
    const silence = (name: string): string => {
      const seen = e.nodes.get(name);
      return seen ? `no status from ${name} for ${Math.round((now - seen.receivedAt) / 1000)} s` : `no status from ${name} yet`;
    };
    const nodes: FeedNode[] = merged.nodes.map((n) => {
      const seen = e.nodes.get(n.node);
      const s = n.reachable ? seen?.status : undefined;
      return {
        ...n,
        reason: n.reachable ? n.reason : silence(n.node),
        epoch: s?.epoch ?? null,
        natsConnected: s?.natsConnected ?? null,
        heartbeatAgeMs: s?.heartbeatAgeMs ?? null,
        dataTls: s?.dataTls ?? null,
        lastSeenAgeMs: seen ? Math.max(0, now - seen.receivedAt) : null,
        transitions: (seen?.status.transitions ?? []).slice(-this.maxTransitions),
      };
    });
    const unreachable = merged.nodes.find((n) => !n.reachable);
    const reason = unreachable && merged.reason === unreachable.reason ? silence(unreachable.node) : merged.reason;
    return {
      pair: e.pair,
      vm: merged.vm,
      protected: merged.protected,
      phase: merged.phase,
      reason,
      epoch: Math.max(merged.epoch, e.lease?.epoch ?? 0),
      nodes,
      checkpoints: merged.checkpoints,
      lastPausesMs: [...e.pauses],
      lease: e.lease ? { ...e.lease } : null,
      resync: lastResync([...e.nodes.values()].map((n) => n.status)),
      failover: lastFailover(fresh),
      events: e.events.map((x) => ({ ...x })),
      updatedAt: e.updatedAt,
    };
  }
}

/** The failover of the node that acted most recently (detected, won the lease or took over), if any. */
function lastFailover(reports: readonly NodeStatus[]): FeedVmStatus['failover'] {
  let best: FeedVmStatus['failover'] = null;
  let bestAt = -Infinity;
  for (const r of reports) {
    const f = r.failover;
    if (!f) continue;
    const at = Math.max(f.detectedAt ?? -Infinity, f.leaseWonAt ?? -Infinity, f.takeoverAt ?? -Infinity);
    if (at === -Infinity || at <= bestAt) continue;
    bestAt = at;
    best = { node: r.node, ...f };
  }
  return best;
}

/** The resync a node reports: one still running first, else the one that started last. */
function lastResync(reports: readonly NodeStatus[]): FeedVmStatus['resync'] {
  const withResync = reports.filter((r) => r.resync);
  const running = withResync.find((r) => r.resync!.doneAt === null);
  const pick = running ?? withResync.sort((a, b) => (b.resync!.startedAt ?? 0) - (a.resync!.startedAt ?? 0))[0];
  return pick?.resync ? { node: pick.node, ...pick.resync } : null;
}
