import { nodeStatusSchema, subjects, type Bus, type NodeStatus } from '../shared/nats/index.js';

/** One node's view of one VM as its agent publishes it: on each transition and every 2 s. */
export interface NodeStatusFeed {
  /** The last status received; null before the first. */
  readonly latest: NodeStatus | null;
  /** The first status accepted, the latest one included; null when none came within `timeoutMs` (or the feed stopped). */
  until(accept: (s: NodeStatus) => boolean, timeoutMs: number): Promise<NodeStatus | null>;
  stop(): void;
}

interface Waiter {
  offer(s: NodeStatus): void;
  end(): void;
}

/**
 * Follow one node's status subject, each message validated against the status
 * schema on receipt (the bus drops bad ones). Subscribe before causing what is
 * to be watched: the server handles a connection's messages in order, so a
 * request sent afterwards finds the subscription in place and no status
 * published because of it is missed.
 */
export function followNodeStatus(bus: Bus, pair: string, vm: string, node: string): NodeStatusFeed {
  let latest: NodeStatus | null = null;
  const waiters = new Set<Waiter>();
  const unsubscribe = bus.subscribe(subjects.status(pair, vm, node), nodeStatusSchema, (s) => {
    latest = s;
    for (const w of [...waiters]) w.offer(s);
  });
  return {
    get latest() {
      return latest;
    },
    until(accept, timeoutMs) {
      if (latest && accept(latest)) return Promise.resolve(latest);
      return new Promise((resolve) => {
        const finish = (s: NodeStatus | null) => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(s);
        };
        const waiter: Waiter = {
          offer: (s) => {
            if (accept(s)) finish(s);
          },
          end: () => finish(null),
        };
        const timer = setTimeout(waiter.end, Math.max(0, timeoutMs));
        waiters.add(waiter);
      });
    },
    stop() {
      unsubscribe();
      for (const w of [...waiters]) w.end();
    },
  };
}
