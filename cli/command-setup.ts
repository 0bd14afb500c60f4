import { loadConfig, type Config } from '../shared/config/index.js';
import { ConfigError, NatsUnavailableError, errorMessage } from '../shared/errors.js';
import type { Bus } from '../shared/nats/index.js';
import { connectCli } from './connect.js';
import { EXIT } from './exit-codes.js';

/** Load the config (and check a named VM and node exist) or say why and return the exit code. */
export function loadCliConfig(file: string, names: { vm?: string; node?: string } = {}): Config | number {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(e.message);
    return EXIT.usage;
  }
  if (names.vm && !config.vms.some((v) => v.name === names.vm)) {
    console.error(`no VM named '${names.vm}' in ${file}`);
    return EXIT.usage;
  }
  if (names.node && !config.nodes.some((n) => n.name === names.node)) {
    console.error(`no node named '${names.node}' in ${file}`);
    return EXIT.usage;
  }
  return config;
}

/** Connect as a CLI client or say NATS is unreachable and return the exit code. */
export async function connectCliOrExit(config: Config, what: string, json = false): Promise<Bus | number> {
  try {
    return await connectCli(config, what);
  } catch (e) {
    const message = e instanceof NatsUnavailableError ? e.message : errorMessage(e);
    if (json) console.log(JSON.stringify({ error: 'NATS_UNREACHABLE', message }));
    else console.error(`NATS unreachable: ${message}`);
    return EXIT.unreachable;
  }
}
