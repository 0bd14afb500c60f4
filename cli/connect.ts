import type { Config } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus, pairUsers, type Bus } from '../shared/nats/index.js';

/** The connection options a config's `nats:` block gives: servers and its one login. */
export function natsAuth(config: Config) {
  return {
    servers: config.nats.servers,
    credsFile: config.nats.credsFile,
    user: config.nats.user,
    password: config.nats.password,
    token: config.nats.token,
    tls: config.nats.tls,
  };
}

/** The CLI's own NATS connection: short timeouts, it answers a person waiting. */
export function connectCli(config: Config, what: string): Promise<Bus> {
  return connectBus({ ...natsAuth(config), name: `colo-ft-cli-${what}`, connectTimeoutMs: 2_000, log: silentLogger() });
}

/**
 * The config's NATS user when it is one of the pair's logins that can command
 * an agent (an agent's or the operator's, named as deploy/nats and the local
 * pairs name them), else null. A read-only consumer (`serve`) refuses those.
 */
export function commandingUser(config: Config): string | null {
  const user = config.nats.user;
  if (user === undefined) return null;
  const entry = pairUsers(config.pair, config.nodes.map((n) => n.name)).find((u) => u.user === user);
  return entry && entry.who.role !== 'dashboard' ? user : null;
}
