import { describe, expect, it } from 'vitest';
import { FeedAggregator, vmKey } from '../../../../shared/feed/aggregate.js';
import { feedVmStatusSchema } from '../../../../shared/nats/index.js';
import { event, nodeStatus, T0, tookOver } from './fixtures.js';

function protectedPair(a = new FeedAggregator()): FeedAggregator {
  a.applyStatus('p1', nodeStatus({ node: 'alpha' }), T0);
  a.applyStatus('p1', nodeStatus({ node: 'beta' }), T0);
  return a;
}

describe('feed aggregator: latest NodeStatus per node, merged per VM', () => {
  it('merges two protected nodes into the status --json shape plus pair and extras', () => {
    const v = protectedPair().view(vmKey('p1', 'vm1'), T0 + 100)!;
    expect(feedVmStatusSchema.parse(v)).toEqual(v);
    expect(v).toMatchObject({ pair: 'p1', vm: 'vm1', protected: true, phase: 'coloRunning', epoch: 1, checkpoints: { count: 10 } });
    expect(v.nodes.map((n) => [n.node, n.reachable, n.role, n.coloMode, n.heartbeatAgeMs, n.lastSeenAgeMs])).toEqual([
      ['alpha', true, 'primary', 'primary', 40, 100],
      ['beta', true, 'secondary', 'secondary', 40, 100],
    ]);
    // Each node's own audit of qemu's block graph, per disk.
    expect(v.nodes.map((n) => [n.node, n.replication?.state, n.disks.map((d) => [d.index, d.replication.reason])])).toEqual([
      ['alpha', 'replicating', [[0, 'disk 0: replicating on alpha']]],
      ['beta', 'replicating', [[0, 'disk 0: replicating on beta']]],
    ]);
  });

  it('a node that reports a degraded audit shows it, and the VM is not protected', () => {
    const a = protectedPair();
    const degraded = { state: 'degraded' as const, reason: 'disk 0: the quorum colo-disk0 has no replication child', checkedAgoMs: 120 };
    a.applyStatus('p1', nodeStatus({ node: 'alpha', phase: 'unreplicated', protected: false, degraded: true, reason: `not replicating: ${degraded.reason}`, replication: degraded, disks: [{ index: 0, replication: degraded }], sentAt: T0 + 1 }), T0 + 1);
    const v = a.view(vmKey('p1', 'vm1'), T0 + 1)!;
    expect(feedVmStatusSchema.parse(v)).toEqual(v);
    expect(v.protected).toBe(false);
    expect(v.reason).toBe('not replicating: disk 0: the quorum colo-disk0 has no replication child');
    expect(v.nodes[0]).toMatchObject({ node: 'alpha', phase: 'unreplicated', replication: degraded, disks: [{ index: 0, replication: degraded }] });
  });

  it('a node not yet heard from has no replication and no disks', () => {
    const a = new FeedAggregator({ nodesOf: () => ['alpha', 'beta'] });
    a.applyStatus('p1', nodeStatus({ node: 'alpha' }), T0);
    const v = a.view(vmKey('p1', 'vm1'), T0)!;
    expect(feedVmStatusSchema.parse(v)).toEqual(v);
    expect(v.nodes[1]).toMatchObject({ node: 'beta', reachable: false, replication: null, disks: [] });
  });

  it('a node silent past staleAfterMs is unreachable and the VM is not protected, saying why', () => {
    const a = protectedPair(new FeedAggregator({ staleAfterMs: 5_000 }));
    a.applyStatus('p1', nodeStatus({ node: 'alpha', sentAt: T0 + 6_000 }), T0 + 6_000);
    const v = a.view(vmKey('p1', 'vm1'), T0 + 6_000)!;
    expect(v.protected).toBe(false);
    expect(v.nodes[1]).toMatchObject({ node: 'beta', reachable: false, role: null, reason: 'no status from beta for 6 s' });
    expect(v.reason).toBe('no status from beta for 6 s');
  });

  it('shows the config nodes before they report', () => {
    const a = new FeedAggregator({ nodesOf: (pair) => (pair === 'p1' ? ['alpha', 'beta'] : undefined) });
    a.applyStatus('p1', nodeStatus({ node: 'alpha' }), T0);
    const v = a.view(vmKey('p1', 'vm1'), T0)!;
    expect(v.nodes.map((n) => [n.node, n.reachable, n.reason])).toEqual([
      ['alpha', true, 'COLO running: the secondary follows every checkpoint'],
      ['beta', false, 'no status from beta yet'],
    ]);
  });

  it('ignores a status older than the one held (a late KV read after a live message)', () => {
    const a = protectedPair();
    expect(a.applyStatus('p1', nodeStatus({ node: 'alpha', epoch: 0, sentAt: T0 - 10 }), T0 + 1)).toBeNull();
    expect(a.view(vmKey('p1', 'vm1'), T0)!.epoch).toBe(1);
  });

  it('after a takeover: the new primary, the higher epoch, the failover figures, the direction', () => {
    const a = protectedPair();
    a.applyStatus('p1', nodeStatus({ node: 'alpha', role: 'none', phase: 'down', protected: false, qemuPid: null, coloMode: null, runState: null, sentAt: T0 + 3_000 }), T0 + 3_000);
    a.applyStatus('p1', tookOver(T0 + 3_100), T0 + 3_100);
    const v = a.view(vmKey('p1', 'vm1'), T0 + 3_200)!;
    expect(feedVmStatusSchema.parse(v)).toEqual(v);
    expect(v).toMatchObject({ protected: false, epoch: 2, phase: 'runningAlone' });
    expect(v.nodes.find((n) => n.role === 'primary')?.node).toBe('beta');
    expect(v.failover).toMatchObject({ node: 'beta', phase: 'runningAlone', takeoverAt: T0 + 3_100, takeoverSteps: { 'x-colo-lost-heartbeat': 6.1, running: 0.5 } });
    expect(a.primaryBefore('p1', 'vm1', 2)).toBe('alpha');
  });

  it('charts each checkpoint pause once, from the primary only, keeping the last N', () => {
    const a = new FeedAggregator({ pauseSamples: 3 });
    let sentAt = T0;
    const at = (count: number, pause: number, node = 'alpha') =>
      a.applyStatus('p1', nodeStatus({ node, checkpoints: { count, ratePerSec: 5, lastPauseMs: pause, lastAgeMs: 1, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] }, sentAt: ++sentAt }), sentAt);
    at(10, 9); // first sight: a baseline, not a new checkpoint
    at(11, 11);
    at(11, 11); // the same checkpoint again (periodic publish)
    at(12, 12);
    at(13, 13, 'beta'); // a secondary's figures are not the guest's pauses
    at(14, 14);
    at(15, 15);
    expect(a.view(vmKey('p1', 'vm1'), T0)!.lastPausesMs).toEqual([12, 14, 15]);
  });

  it('charts every checkpoint between two statuses, from the pauses with times each status carries', () => {
    const a = new FeedAggregator({ pauseSamples: 100 });
    const cp = (count: number, pauses: Array<[number, number]>) => ({
      ...{ count, ratePerSec: 5, lastPauseMs: pauses.at(-1)![1], lastAgeMs: 1, pauseMsP50: null, pauseMsP99: null, pausedFraction: null },
      recentPauses: pauses.map(([at, ms]) => ({ at, ms })),
    });
    a.applyStatus('p1', nodeStatus({ node: 'alpha', checkpoints: cp(10, [[T0 - 200, 7], [T0, 8]]), sentAt: T0 }), T0);
    // Two seconds later: ten more checkpoints, each carried with its time, two of them already seen.
    const next: Array<[number, number]> = [[T0 - 200, 7], [T0, 8], ...Array.from({ length: 10 }, (_, i): [number, number] => [T0 + 200 * (i + 1), 10 + i])];
    a.applyStatus('p1', nodeStatus({ node: 'alpha', checkpoints: cp(20, next), sentAt: T0 + 2_000 }), T0 + 2_000);
    expect(a.view(vmKey('p1', 'vm1'), T0 + 2_000)!.lastPausesMs).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('keeps the event timeline ordered, deduplicated and bounded', () => {
    const a = new FeedAggregator({ maxEvents: 2 });
    expect(a.applyEvent(event({ kind: 'failover-started', at: T0 + 2 }), T0)).toBe(true);
    expect(a.applyEvent(event({ kind: 'protected', at: T0 + 1, epoch: 1 }), T0)).toBe(true);
    expect(a.applyEvent(event({ kind: 'failover-started', at: T0 + 2 }), T0)).toBe(false);
    a.applyEvent(event({ kind: 'takeover-done', at: T0 + 3 }), T0);
    expect(a.view(vmKey('p1', 'vm1'), T0)!.events.map((e) => e.kind)).toEqual(['failover-started', 'takeover-done']);
  });

  it('carries the lease holder and expiry, and its epoch when it is ahead of the statuses', () => {
    const a = protectedPair();
    a.applyLease('p1', 'vm1', { holder: 'beta', epoch: 3, expiresAtMs: T0 + 9_000 }, T0);
    const v = a.view(vmKey('p1', 'vm1'), T0)!;
    expect(v.lease).toEqual({ holder: 'beta', epoch: 3, expiresAtMs: T0 + 9_000 });
    expect(v.epoch).toBe(3);
  });

  it('shows the running resync of the node that reports one', () => {
    const a = protectedPair();
    const resync = { phase: 'resyncing', peer: 'alpha', attempts: 1, bytesDone: 1 << 20, bytesTotal: 4 << 20, rateBytesPerSec: 1 << 19, etaMs: 6000, startedAt: T0, resyncStartedAt: T0, resyncReadyAt: null, pauseMs: null, doneAt: null };
    a.applyStatus('p1', nodeStatus({ node: 'beta', role: 'primary', resync, sentAt: T0 + 1 }), T0 + 1);
    const v = a.view(vmKey('p1', 'vm1'), T0 + 1)!;
    expect(feedVmStatusSchema.parse(v)).toEqual(v);
    expect(v.resync).toEqual({ node: 'beta', ...resync });
  });

  it('sorts many VMs and pairs by name, numeric-aware', () => {
    const a = new FeedAggregator();
    for (const [pair, vm] of [['p2', 'vm1'], ['p1', 'vm10'], ['p1', 'vm2'], ['p1', 'vm1']] as const) a.applyStatus(pair, nodeStatus({ node: 'alpha', vm }), T0);
    expect(a.views(T0).map((v) => `${v.pair}/${v.vm}`)).toEqual(['p1/vm1', 'p1/vm2', 'p1/vm10', 'p2/vm1']);
  });
});
