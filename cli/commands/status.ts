import { loadConfig } from '../../shared/config/index.js';
import { ConfigError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { connectCli } from '../connect.js';
import { EXIT } from '../exit-codes.js';
import { formatVmStatus } from '../format.js';
import { queryPairStatus } from '../pair-status.js';
import { runStatusWatch } from './status-watch.js';

export interface StatusOptions {
  config: string;
  json?: boolean;
  vm?: string;
  timeoutMs?: number;
  /** Follow the feed until Ctrl-C instead of asking once. */
  watch?: boolean;
}

/** `colo-ft status`: one JSON object per VM per line with --json (one VM: exactly one object). */
export async function runStatus(o: StatusOptions): Promise<number> {
  let config;
  try {
    config = loadConfig(o.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return EXIT.usage;
    }
    throw e;
  }
  if (o.vm && !config.vms.some((v) => v.name === o.vm)) {
    console.error(`no VM named '${o.vm}' in ${o.config}`);
    return EXIT.usage;
  }
  if (o.watch) return runStatusWatch(config, o);
  let bus;
  try {
    bus = await connectCli(config, 'status');
  } catch (e) {
    const msg = e instanceof NatsUnavailableError ? e.message : errorMessage(e);
    if (o.json) console.log(JSON.stringify({ error: 'NATS_UNREACHABLE', message: msg }));
    else console.error(`NATS unreachable: ${msg}`);
    return EXIT.unreachable;
  }
  try {
    const status = await queryPairStatus(bus, config, o.timeoutMs ?? 2_000);
    const vms = status.vms.filter((v) => !o.vm || v.vm === o.vm);
    if (o.json) for (const v of vms) console.log(JSON.stringify(v));
    else {
      for (const v of vms) console.log(formatVmStatus(v));
      for (const s of status.silent) console.error(`agent on ${s.node} did not answer: ${s.reason}`);
    }
    return status.answered.length === 0 ? EXIT.unreachable : EXIT.ok;
  } finally {
    await bus.close();
  }
}
