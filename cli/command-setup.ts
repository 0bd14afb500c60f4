import { loadConfig, type Config } from '../shared/config/index.js';
import { ConfigError, NatsUnavailableError, errorMessage } from '../shared/errors.js';
import type { Bus } from '../shared/nats/index.js';
import { connectCli } from './connect.js';
import { sayError } from './cli-error.js';
import { EXIT } from './exit-codes.js';

/** Load the config (and check a named VM and node exist) or say why and return the exit code. */
export function loadCliConfig(file: string, names: { vm?: string; node?: string } = {}, json = false): Config | number {
  let config: Config;
  try {
    config = loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    sayError(json, 'CONFIG_INVALID', e.message, { issues: e.issues });
    return EXIT.usage;
  }
  if (names.vm && !config.vms.some((v) => v.name === names.vm)) {
    sayError(json, 'NO_SUCH_VM', `no VM named '${names.vm}' in ${file}`);
    return EXIT.usage;
  }
  if (names.node && !config.nodes.some((n) => n.name === names.node)) {
    sayError(json, 'NO_SUCH_NODE', `no node named '${names.node}' in ${file}`);
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
    sayError(json, 'NATS_UNREACHABLE', `NATS unreachable: ${message}`);
    return EXIT.unreachable;
  }
}
