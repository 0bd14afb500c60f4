import type { Config } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus, type Bus } from '../shared/nats/index.js';

/** The CLI's own NATS connection: short timeouts, it answers a person waiting. */
export function connectCli(config: Config, what: string): Promise<Bus> {
  return connectBus({
    servers: config.nats.servers,
    name: `colo-ft-cli-${what}`,
    credsFile: config.nats.credsFile,
    user: config.nats.user,
    password: config.nats.password,
    token: config.nats.token,
    tls: config.nats.tls,
    connectTimeoutMs: 2_000,
    log: silentLogger(),
  });
}
