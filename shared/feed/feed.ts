import type { ColoEvent, FeedVmStatus, NodeStatus } from '../nats/index.js';
import { FeedAggregator, vmKey, type AggregatorOptions, type LeaseInfo } from './aggregate.js';
import { FeedMetrics } from './metrics.js';

export type FeedListener = (view: FeedVmStatus) => void;

/**
 * The feed: every message goes into the aggregator and the metrics, and the
 * VM's new merged view goes to every listener (SSE clients, the terminal).
 * No I/O here; `source.ts` feeds it from NATS, `server.ts` serves it.
 */
export class Feed {
  readonly aggregator: FeedAggregator;
  readonly metrics = new FeedMetrics();
  private readonly listeners = new Set<FeedListener>();

  constructor(
    options: AggregatorOptions = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.aggregator = new FeedAggregator(options);
  }

  onChange(listener: FeedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  views(): FeedVmStatus[] {
    return this.aggregator.views(this.clock());
  }

  status(pair: string, s: NodeStatus): void {
    const now = this.clock();
    const applied = this.aggregator.applyStatus(pair, s, now);
    if (!applied) return;
    this.metrics.observeStatus(pair, s, applied.previous, () => this.direction(pair, s.vm, s.epoch, s.node));
    this.emit(applied.key, now);
  }

  event(e: ColoEvent): void {
    const now = this.clock();
    if (!this.aggregator.applyEvent(e, now)) return;
    const key = vmKey(e.pair, e.vm);
    const trigger = this.aggregator.view(key, now)?.failover?.trigger ?? null;
    this.metrics.observeEvent(e, () => this.direction(e.pair, e.vm, e.epoch, e.node), trigger);
    this.emit(key, now);
  }

  lease(pair: string, vm: string, lease: LeaseInfo | null): void {
    const now = this.clock();
    this.aggregator.applyLease(pair, vm, lease, now);
    this.emit(vmKey(pair, vm), now);
  }

  /** Re-send every VM (ages grow, silent nodes turn unreachable): called on a timer by the server. */
  tick(): void {
    const now = this.clock();
    for (const key of this.aggregator.keys()) this.emit(key, now);
  }

  /** `alpha->beta`: the primary of the epoch before, to the node that took over. */
  private direction(pair: string, vm: string, epoch: number, to: string): string {
    const from = this.aggregator.primaryBefore(pair, vm, epoch);
    return `${from ?? 'unknown'}->${to}`;
  }

  private emit(key: string, now: number): void {
    const view = this.aggregator.view(key, now);
    if (!view) return;
    this.metrics.observeView(view);
    for (const l of this.listeners) l(view);
  }
}
