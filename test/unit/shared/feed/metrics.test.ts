import { describe, expect, it } from 'vitest';
import { Feed } from '../../../../shared/feed/feed.js';
import { failoverReason } from '../../../../shared/feed/metrics.js';
import { event, nodeStatus, T0, tookOver } from './fixtures.js';

/** The value of one sample line of the Prometheus text, e.g. `colo_ft_lease_epoch{pair="p1",vm="vm1"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function feedAt(): { feed: Feed; at: (t: number) => void } {
  let now = T0;
  return { feed: new Feed({}, () => now), at: (t) => (now = t) };
}

describe('feed metrics: Prometheus text from the status messages', () => {
  it('renders checkpoints, pauses, epoch, protection and heartbeat age', async () => {
    const { feed } = feedAt();
    const cp = (count: number, pauseMs: number) => ({ count, ratePerSec: 5, lastPauseMs: pauseMs, lastAgeMs: 1, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] });
    feed.status('p1', nodeStatus({ node: 'alpha', checkpoints: cp(10, 12), sentAt: T0 }));
    feed.status('p1', nodeStatus({ node: 'beta', heartbeatAgeMs: 250, sentAt: T0 }));
    feed.status('p1', nodeStatus({ node: 'alpha', checkpoints: cp(13, 30), sentAt: T0 + 1 }));
    const text = await feed.metrics.render();
    expect(text).toContain('# TYPE colo_ft_checkpoints_total counter');
    expect(text).toContain('# TYPE colo_ft_checkpoint_pause_seconds histogram');
    expect(sample(text, 'colo_ft_checkpoints_total{pair="p1",vm="vm1"}')).toBe(3);
    expect(sample(text, 'colo_ft_checkpoint_pause_seconds_count{pair="p1",vm="vm1"}')).toBe(1);
    expect(sample(text, 'colo_ft_checkpoint_pause_seconds_bucket{le="0.025",pair="p1",vm="vm1"}')).toBe(0);
    expect(sample(text, 'colo_ft_checkpoint_pause_seconds_bucket{le="0.05",pair="p1",vm="vm1"}')).toBe(1);
    expect(sample(text, 'colo_ft_lease_epoch{pair="p1",vm="vm1"}')).toBe(1);
    expect(sample(text, 'colo_ft_protected{pair="p1",vm="vm1"}')).toBe(1);
    expect(sample(text, 'colo_ft_heartbeat_age_seconds{pair="p1",vm="vm1",node="beta"}')).toBe(0.25);
    expect(sample(text, 'colo_ft_nats_connected{pair="p1",vm="vm1",node="alpha"}')).toBe(1);
  });

  it("renders colo-compare's figures per NIC where one runs, and none for a NIC without figures", async () => {
    const { feed } = feedAt();
    const nic = { netdev: 'hn0', mac: '52:54:00:12:34:56', proxied: true, objects: [] };
    feed.status('p1', nodeStatus({ node: 'alpha', nics: [{ ...nic, index: 0, proxy: 'primary', packetsCompared: 40, miscompares: 2, miscompareCheckpoints: 1 }] }));
    feed.status('p1', nodeStatus({ node: 'beta', nics: [{ ...nic, index: 0, proxy: 'secondary', packetsCompared: null, miscompares: null, miscompareCheckpoints: null }] }));
    const text = await feed.metrics.render();
    const series = (node: string, figure: string) => `colo_ft_nic_compare{pair="p1",vm="vm1",node="${node}",nic="0",figure="${figure}"}`;
    expect(sample(text, series('alpha', 'packets_compared'))).toBe(40);
    expect(sample(text, series('alpha', 'miscompares'))).toBe(2);
    expect(sample(text, series('alpha', 'miscompare_checkpoints'))).toBe(1);
    expect(sample(text, series('beta', 'packets_compared'))).toBeUndefined();
  });

  it('puts every checkpoint into the pause histogram, not one per status', async () => {
    const { feed } = feedAt();
    const cp = (count: number, pauses: number[]) => ({
      ...{ count, ratePerSec: 5, lastPauseMs: pauses.at(-1)!, lastAgeMs: 1, pauseMsP50: null, pauseMsP99: null, pausedFraction: null },
      recentPauses: pauses.map((ms, i) => ({ at: T0 + count * 1_000 + i, ms })),
    });
    feed.status('p1', nodeStatus({ node: 'alpha', checkpoints: cp(10, [8]), sentAt: T0 }));
    feed.status('p1', nodeStatus({ node: 'alpha', checkpoints: cp(20, [8, 8, 8, 8, 8, 30, 30, 30, 30, 30]), sentAt: T0 + 1 }));
    const text = await feed.metrics.render();
    expect(sample(text, 'colo_ft_checkpoints_total{pair="p1",vm="vm1"}')).toBe(10);
    expect(sample(text, 'colo_ft_checkpoint_pause_seconds_count{pair="p1",vm="vm1"}')).toBe(10);
    expect(sample(text, 'colo_ft_checkpoint_pause_seconds_bucket{le="0.01",pair="p1",vm="vm1"}')).toBe(5);
  });

  it('labels the direction from the old primary even when the taker reported primary under the old epoch first', async () => {
    const { feed, at } = feedAt();
    feed.status('p1', nodeStatus({ node: 'alpha' }));
    feed.status('p1', nodeStatus({ node: 'beta' }));
    at(T0 + 3_000);
    // beta mid-takeover: primary already, epoch not yet bumped, not protected.
    feed.status('p1', nodeStatus({ node: 'beta', role: 'primary', epoch: 1, protected: false, sentAt: T0 + 2_950 }));
    feed.status('p1', tookOver(T0 + 3_000));
    feed.event(event({ kind: 'takeover-done', at: T0 + 3_000 }));
    const text = await feed.metrics.render();
    expect(text).toContain('direction="alpha->beta"');
    expect(text).not.toContain('direction="beta->beta"');
  });

  it('counts a failover once by direction and reason, from the event and the status alike', async () => {
    const { feed, at } = feedAt();
    feed.status('p1', nodeStatus({ node: 'alpha' }));
    feed.status('p1', nodeStatus({ node: 'beta' }));
    at(T0 + 3_000);
    feed.status('p1', tookOver(T0 + 3_000));
    feed.event(event({ kind: 'failover-started', at: T0 + 2_900 }));
    feed.event(event({ kind: 'takeover-done', at: T0 + 3_000 }));
    const text = await feed.metrics.render();
    expect(sample(text, 'colo_ft_failovers_total{pair="p1",vm="vm1",direction="alpha->beta",reason="heartbeat-timeout"}')).toBe(1);
    expect(sample(text, 'colo_ft_lease_epoch{pair="p1",vm="vm1"}')).toBe(2);
    expect(sample(text, 'colo_ft_protected{pair="p1",vm="vm1"}')).toBe(0);
  });

  it('counts fencing and finished resyncs, and reports resync bytes and rate', async () => {
    const { feed } = feedAt();
    feed.event(event({ kind: 'fenced', node: 'alpha', at: T0 + 1 }));
    feed.event(event({ kind: 'fenced', node: 'alpha', at: T0 + 1 })); // the same event twice
    feed.event(event({ kind: 'resync-done', at: T0 + 2 }));
    const resync = { phase: 'resyncing', peer: 'alpha', attempts: 1, bytesDone: 1000, bytesTotal: 4000, rateBytesPerSec: 500, etaMs: 6000, startedAt: T0, resyncStartedAt: T0, resyncReadyAt: null, pauseMs: null, doneAt: null };
    feed.status('p1', nodeStatus({ node: 'beta', role: 'primary', resync }));
    const text = await feed.metrics.render();
    expect(sample(text, 'colo_ft_fenced_total{pair="p1",vm="vm1",node="alpha"}')).toBe(1);
    expect(sample(text, 'colo_ft_resyncs_total{pair="p1",vm="vm1"}')).toBe(1);
    expect(sample(text, 'colo_ft_resync_bytes{pair="p1",vm="vm1"}')).toBe(1000);
    expect(sample(text, 'colo_ft_resync_total_bytes{pair="p1",vm="vm1"}')).toBe(4000);
    expect(sample(text, 'colo_ft_resync_rate_bytes_per_second{pair="p1",vm="vm1"}')).toBe(500);
  });

  it('two feeds in one process keep their own registries', async () => {
    const a = feedAt().feed;
    const b = feedAt().feed;
    a.status('p1', nodeStatus({ node: 'alpha' }));
    expect(await a.metrics.render()).toContain('colo_ft_protected{pair="p1"');
    expect(await b.metrics.render()).not.toContain('colo_ft_protected{pair="p1"');
  });

  it.each([
    ['no heartbeat from alpha for 3012 ms', 'heartbeat-timeout'],
    ['peer alpha reports its qemu is gone', 'peer-qemu-lost'],
    ['COLO_EXIT on the secondary', 'colo-failed'],
    [null, 'unknown'],
    ['something new', 'other'],
  ])('failover reason %j is labelled %s', (trigger, label) => {
    expect(failoverReason(trigger)).toBe(label);
  });
});
