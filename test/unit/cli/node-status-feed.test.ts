import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { followNodeStatus } from '../../../cli/node-status-feed.js';
import type { Bus, NodeStatus } from '../../../shared/nats/index.js';
import { T0, nodeStatus, tookOver } from '../shared/feed/fixtures.js';

/** A bus with one subscription that validates what a test publishes, as the real one does on receipt. */
function fakeBus() {
  const subs: Array<{ subject: string; deliver: (raw: unknown) => void; closed: boolean }> = [];
  const bus = {
    subscribe<T>(subject: string, schema: z.ZodType<T>, onMessage: (m: T, subject: string) => void) {
      const sub = {
        subject,
        closed: false,
        deliver: (raw: unknown) => {
          const parsed = schema.safeParse(raw);
          if (parsed.success && !sub.closed) onMessage(parsed.data, subject);
        },
      };
      subs.push(sub);
      return () => void (sub.closed = true);
    },
  } as unknown as Bus;
  return { bus, subs, publish: (raw: unknown) => subs.forEach((s) => s.deliver(raw)) };
}

const alive = (s: NodeStatus) => s.failover?.phase === 'runningAlone';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('followNodeStatus', () => {
  it("subscribes to the node's status subject and keeps the latest valid status", () => {
    const { bus, subs, publish } = fakeBus();
    const feed = followNodeStatus(bus, 'demo', 'vm1', 'beta');
    expect(subs.map((s) => s.subject)).toEqual(['colo.demo.vm1.status.beta']);
    expect(feed.latest).toBeNull();
    publish(nodeStatus({ node: 'beta' }));
    publish({ node: 'beta', forged: true });
    expect(feed.latest).toMatchObject({ node: 'beta', phase: 'coloRunning' });
  });

  it('resolves with the first accepted status to arrive', async () => {
    const { bus, publish } = fakeBus();
    const feed = followNodeStatus(bus, 'demo', 'vm1', 'beta');
    const waited = feed.until(alive, 1_000);
    publish(nodeStatus({ node: 'beta' }));
    publish(tookOver(T0));
    publish(tookOver(T0 + 1));
    await expect(waited).resolves.toMatchObject({ sentAt: T0 });
  });

  it('resolves at once when the latest status is already accepted', async () => {
    const { bus, publish } = fakeBus();
    const feed = followNodeStatus(bus, 'demo', 'vm1', 'beta');
    publish(tookOver(T0));
    await expect(feed.until(alive, 0)).resolves.toMatchObject({ sentAt: T0 });
  });

  it('resolves with null at the timeout, or when stopped, and unsubscribes', async () => {
    const { bus, subs, publish } = fakeBus();
    const feed = followNodeStatus(bus, 'demo', 'vm1', 'beta');
    const timedOut = feed.until(alive, 1_000);
    publish(nodeStatus({ node: 'beta' }));
    vi.advanceTimersByTime(1_000);
    await expect(timedOut).resolves.toBeNull();
    const stopped = feed.until(alive, 1_000);
    feed.stop();
    await expect(stopped).resolves.toBeNull();
    expect(subs[0]!.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
