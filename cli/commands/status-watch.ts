import { sayError } from '../cli-error.js';
import type { Config } from '../../shared/config/index.js';
import { NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { Feed, startFeedSource } from '../../shared/feed/index.js';
import { silentLogger } from '../../shared/log.js';
import type { FeedVmStatus } from '../../shared/nats/index.js';
import { connectCli } from '../connect.js';
import { EXIT } from '../exit-codes.js';
import { formatVmStatus } from '../format.js';

export interface StatusWatchOptions {
  json?: boolean;
  vm?: string;
}

/** What a person watching cares about: a line is printed when this changes (not on every 2 s refresh). */
export function watchSignature(v: FeedVmStatus): string {
  const nodes = v.nodes.map((n) => `${n.node}:${n.reachable}:${n.role}:${n.phase}:${n.coloMode}:${n.runState}`).join(',');
  return `${v.protected}|${v.phase}|${v.epoch}|${v.reason}|${nodes}|${v.resync?.phase ?? ''}`;
}

/**
 * `colo-ft status --watch`: follow the status feed on NATS (the status bucket
 * at once, then every status and event) until Ctrl-C. With --json, one line
 * per update (the `status --json` names plus `pair` and the feed's extras);
 * otherwise the VM's block, timestamped, whenever what it says changes.
 */
export async function runStatusWatch(config: Config, o: StatusWatchOptions): Promise<number> {
  let bus;
  try {
    bus = await connectCli(config, 'status-watch');
  } catch (e) {
    const msg = e instanceof NatsUnavailableError ? e.message : errorMessage(e);
    sayError(o.json, 'NATS_UNREACHABLE', `NATS unreachable: ${msg}`);
    return EXIT.unreachable;
  }
  const feed = new Feed({ nodesOf: (pair) => (pair === config.pair ? config.nodes.map((n) => n.name) : undefined) });
  const printed = new Map<string, string>();
  feed.onChange((v) => {
    if (v.pair !== config.pair || (o.vm && v.vm !== o.vm)) return;
    if (o.json) return void console.log(JSON.stringify(v));
    const sig = watchSignature(v);
    if (printed.get(v.vm) === sig) return;
    printed.set(v.vm, sig);
    console.log(`[${new Date().toISOString()}] ${formatVmStatus(v)}`);
  });
  const source = startFeedSource({ bus, feed, pairs: [config.pair], kvReplicas: config.nats.kvReplicas, log: silentLogger() });
  const tick = setInterval(() => feed.tick(), 5_000);
  const openBus = bus;
  return new Promise<number>((resolve) => {
    const stop = () => {
      clearInterval(tick);
      source.stop();
      void openBus.close().then(() => resolve(EXIT.ok));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
