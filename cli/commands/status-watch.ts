import { sayError } from '../cli-error.js';
import type { Config } from '../../shared/config/index.js';
import { NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { Feed, startFeedSource } from '../../shared/feed/index.js';
import { silentLogger } from '../../shared/log.js';
import type { FeedVmStatus } from '../../shared/nats/index.js';
import { connectCli } from '../connect.js';
import { EXIT } from '../exit-codes.js';
import { LiveView } from '../live-view.js';

export interface StatusWatchOptions {
  json?: boolean;
  vm?: string;
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
  const view = new LiveView(process.stdout, process.stdout.columns || 120);
  // Nothing is shown before the stored statuses were read: a node not heard from *yet* is not news.
  let ready = false;
  const mine = (): FeedVmStatus[] => feed.views().filter((v) => v.pair === config.pair && (!o.vm || v.vm === o.vm));
  const show = (changed?: FeedVmStatus): void => {
    if (!ready) return;
    if (o.json) {
      for (const v of changed ? [changed] : mine()) console.log(JSON.stringify(v));
      return;
    }
    view.show(mine());
  };
  feed.onChange((v) => {
    if (v.pair === config.pair && (!o.vm || v.vm === o.vm)) show(v);
  });
  const source = startFeedSource({ bus, feed, pairs: [config.pair], kvReplicas: config.nats.kvReplicas, log: silentLogger() });
  void source.ready.then(() => {
    ready = true;
    show();
  });
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
