import { newPauses } from './aggregate.js';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ColoEvent, FeedVmStatus, NodeStatus } from '../nats/index.js';

/**
 * Prometheus figures of every VM the feed sees, fed by the same messages as
 * the dashboard. A registry of its own (never prom-client's global one), so
 * two feeds in one process (tests, the demo) do not collide.
 *
 * Counters count what this feed saw while it ran (as every Prometheus counter,
 * they start at 0 with the process): checkpoints from the growth of each
 * primary's count, failovers from `takeover-done` (or a takeover seen in a
 * node's status), fencing from `fenced` events. The pause histogram observes
 * the last pause of each status message whose checkpoint count grew (agents
 * publish on every change and every 2 s, so it is a sample, not every pause).
 */
export class FeedMetrics {
  readonly registry = new Registry();
  private readonly checkpoints: Counter<'pair' | 'vm'>;
  private readonly pause: Histogram<'pair' | 'vm'>;
  private readonly failovers: Counter<'pair' | 'vm' | 'direction' | 'reason'>;
  private readonly fenced: Counter<'pair' | 'vm' | 'node'>;
  private readonly unreplicated: Counter<'pair' | 'vm' | 'node'>;
  private readonly resyncBytes: Gauge<'pair' | 'vm'>;
  private readonly resyncTotal: Gauge<'pair' | 'vm'>;
  private readonly resyncRate: Gauge<'pair' | 'vm'>;
  private readonly resyncs: Counter<'pair' | 'vm'>;
  private readonly heartbeatAge: Gauge<'pair' | 'vm' | 'node'>;
  private readonly epoch: Gauge<'pair' | 'vm'>;
  private readonly protectedGauge: Gauge<'pair' | 'vm'>;
  private readonly natsConnected: Gauge<'pair' | 'vm' | 'node'>;
  private readonly messages: Counter<'kind'>;
  private readonly nicFigures: Gauge<'pair' | 'vm' | 'node' | 'nic' | 'figure'>;
  private readonly countedFailovers = new Set<string>();

  constructor() {
    const registers = [this.registry];
    this.checkpoints = new Counter({ name: 'colo_ft_checkpoints_total', help: 'COLO checkpoints completed by the primary', labelNames: ['pair', 'vm'], registers });
    this.pause = new Histogram({
      name: 'colo_ft_checkpoint_pause_seconds',
      help: 'Guest pause of each checkpoint (qemu STOP to RESUME), every one, from the pauses each status carries',
      labelNames: ['pair', 'vm'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.failovers = new Counter({ name: 'colo_ft_failovers_total', help: 'Takeovers, by direction (from->to node) and reason', labelNames: ['pair', 'vm', 'direction', 'reason'], registers });
    this.fenced = new Counter({ name: 'colo_ft_fenced_total', help: 'Times a node fenced its VM (lost the lease while acting)', labelNames: ['pair', 'vm', 'node'], registers });
    this.unreplicated = new Counter({
      name: 'colo_ft_replication_degraded_total',
      help: "Times a node's audit of qemu's block graph found a COLO disk not replicating (replication-degraded events)",
      labelNames: ['pair', 'vm', 'node'],
      registers,
    });
    this.resyncBytes = new Gauge({ name: 'colo_ft_resync_bytes', help: 'Bytes copied by the current or last resync', labelNames: ['pair', 'vm'], registers });
    this.resyncTotal = new Gauge({ name: 'colo_ft_resync_total_bytes', help: 'Bytes to copy in the current or last resync', labelNames: ['pair', 'vm'], registers });
    this.resyncRate = new Gauge({ name: 'colo_ft_resync_rate_bytes_per_second', help: 'Copy rate of the current resync (0 when none runs)', labelNames: ['pair', 'vm'], registers });
    this.resyncs = new Counter({ name: 'colo_ft_resyncs_total', help: 'Resyncs finished (resync-done events)', labelNames: ['pair', 'vm'], registers });
    this.heartbeatAge = new Gauge({ name: 'colo_ft_heartbeat_age_seconds', help: "Age of the peer's last heartbeat, as each node sees it", labelNames: ['pair', 'vm', 'node'], registers });
    this.epoch = new Gauge({ name: 'colo_ft_lease_epoch', help: 'Lease epoch (fencing token) of the VM', labelNames: ['pair', 'vm'], registers });
    this.protectedGauge = new Gauge({ name: 'colo_ft_protected', help: '1 when the VM is protected (both nodes in COLO), else 0', labelNames: ['pair', 'vm'], registers });
    this.natsConnected = new Gauge({ name: 'colo_ft_nats_connected', help: '1 when the node reports its NATS link up', labelNames: ['pair', 'vm', 'node'], registers });
    this.nicFigures = new Gauge({
      name: 'colo_ft_nic_compare',
      help: "colo-compare's figures per NIC on the node running it, read from qemu's trace since the agent attached that qemu (figure: packets_compared, miscompares, miscompare_checkpoints)",
      labelNames: ['pair', 'vm', 'node', 'nic', 'figure'],
      registers,
    });
    this.messages = new Counter({ name: 'colo_ft_feed_messages_total', help: 'Messages the feed received, by kind', labelNames: ['kind'], registers });
  }

  /** One node's status; `previous` is that node's last one (undefined for the first). */
  observeStatus(pair: string, s: NodeStatus, previous: NodeStatus | undefined, direction: () => string): void {
    const labels = { pair, vm: s.vm };
    this.messages.inc({ kind: 'status' });
    if (s.role === 'primary') {
      const before = previous?.role === 'primary' ? previous.checkpoints.count : null;
      const grown = before === null ? 0 : s.checkpoints.count >= before ? s.checkpoints.count - before : s.checkpoints.count;
      if (grown > 0) {
        this.checkpoints.inc(labels, grown);
        // Every checkpoint since the last status goes into the histogram, from the pauses the status carries.
        for (const ms of newPauses(s, previous).slice(-grown)) this.pause.observe(labels, ms / 1000);
      } else if (before === null) this.checkpoints.inc(labels, 0);
    }
    if (s.resync) this.observeResync(labels, s.resync);
    if (s.heartbeatAgeMs !== null) this.heartbeatAge.set({ ...labels, node: s.node }, s.heartbeatAgeMs / 1000);
    this.natsConnected.set({ ...labels, node: s.node }, s.natsConnected ? 1 : 0);
    for (const n of s.nics) {
      if (n.packetsCompared === null) continue;
      const l = { ...labels, node: s.node, nic: String(n.index) };
      this.nicFigures.set({ ...l, figure: 'packets_compared' }, n.packetsCompared);
      this.nicFigures.set({ ...l, figure: 'miscompares' }, n.miscompares ?? 0);
      this.nicFigures.set({ ...l, figure: 'miscompare_checkpoints' }, n.miscompareCheckpoints ?? 0);
    }
    // A takeover seen happening in the status (its time appeared while we watched) counts even if the event was missed.
    const took = s.failover?.takeoverAt ?? null;
    if (previous && took !== null && (previous.failover?.takeoverAt ?? null) !== took) {
      this.countFailover(pair, s.vm, s.epoch, direction(), s.failover?.trigger ?? null);
    }
  }

  /** The merged view of a VM: gauges that describe the pair as a whole. */
  observeView(v: FeedVmStatus): void {
    const labels = { pair: v.pair, vm: v.vm };
    this.epoch.set(labels, v.epoch);
    this.protectedGauge.set(labels, v.protected ? 1 : 0);
  }

  observeEvent(e: ColoEvent, direction: () => string, trigger: string | null): void {
    this.messages.inc({ kind: 'event' });
    const labels = { pair: e.pair, vm: e.vm };
    if (e.kind === 'takeover-done') this.countFailover(e.pair, e.vm, e.epoch, direction(), trigger);
    else if (e.kind === 'fenced') this.fenced.inc({ ...labels, node: e.node });
    else if (e.kind === 'replication-degraded') this.unreplicated.inc({ ...labels, node: e.node });
    else if (e.kind === 'resync-done') this.resyncs.inc(labels);
  }

  private observeResync(labels: { pair: string; vm: string }, r: NonNullable<NodeStatus['resync']>): void {
    this.resyncBytes.set(labels, r.bytesDone);
    this.resyncTotal.set(labels, r.bytesTotal);
    this.resyncRate.set(labels, r.doneAt === null ? r.rateBytesPerSec : 0);
  }

  private countFailover(pair: string, vm: string, epoch: number, direction: string, trigger: string | null): void {
    const key = `${pair}/${vm}/${epoch}`;
    if (this.countedFailovers.has(key)) return;
    this.countedFailovers.add(key);
    this.failovers.inc({ pair, vm, direction, reason: failoverReason(trigger) });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** A failover trigger (free text from the machine) as a small closed set, for a metric label. */
export function failoverReason(trigger: string | null): string {
  if (!trigger) return 'unknown';
  if (/no heartbeat/i.test(trigger)) return 'heartbeat-timeout';
  if (/qemu/i.test(trigger)) return 'peer-qemu-lost';
  if (/colo/i.test(trigger)) return 'colo-failed';
  if (/lease/i.test(trigger)) return 'lease-lost';
  return 'other';
}
