import { loadCliConfig } from '../command-setup.js';
import { ConfigError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { startFeedServer } from '../../shared/feed/index.js';
import { createLogger } from '../../shared/log.js';
import { connectBus } from '../../shared/nats/index.js';
import { commandingUser, natsAuth } from '../connect.js';
import { EXIT } from '../exit-codes.js';

export interface ServeOptions {
  config: string;
  /** `PORT`, `HOST:PORT` or `[V6]:PORT`; loopback unless a host is named. */
  listen?: string;
  logLevel?: string;
}

export const DEFAULT_LISTEN = '127.0.0.1:8484';

/** `colo-ft serve`: the dashboard, `/events` (SSE) and `/metrics` for every VM on this NATS, until SIGINT/SIGTERM. */
export async function runServe(o: ServeOptions): Promise<number> {
  const log = createLogger('colo-ft-serve', { level: o.logLevel ?? 'warn', destination: process.stderr });
  const config = loadCliConfig(o.config);
  if (typeof config === 'number') return config;
  // The dashboard is for reading: a login that could command an agent has no business here.
  const commanding = commandingUser(config);
  if (commanding) {
    console.error(
      `colo-ft serve: NATS user '${commanding}' can command agents; give serve the pair's read-only login (${config.pair}-dashboard: the demo's dashboard.yaml, deploy/nats's credentials/${config.pair}/${config.pair}-dashboard.yaml)`,
    );
    return EXIT.usage;
  }
  let bus;
  try {
    // A long-running watcher: the bus reconnects forever once connected.
    bus = await connectBus({ ...natsAuth(config), name: 'colo-ft-serve', connectTimeoutMs: 2_000, log });
  } catch (e) {
    console.error(`NATS unreachable: ${e instanceof NatsUnavailableError ? e.message : errorMessage(e)}`);
    return EXIT.unreachable;
  }
  let server;
  try {
    server = await startFeedServer({ bus, config, listen: o.listen ?? DEFAULT_LISTEN, log });
  } catch (e) {
    await bus.close();
    if (e instanceof ConfigError) {
      console.error(e.message);
      return EXIT.usage;
    }
    console.error(`colo-ft serve: ${errorMessage(e)}`);
    return EXIT.failed;
  }
  console.log(`dashboard: ${server.url}`);
  const running = server;
  const openBus = bus;
  return new Promise<number>((resolve) => {
    const shutdown = () => {
      void running
        .close()
        .then(() => openBus.close())
        .then(
          () => resolve(EXIT.ok),
          () => resolve(EXIT.failed),
        );
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}

export { natsAuth } from '../connect.js';
