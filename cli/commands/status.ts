import { connectCliOrExit, loadCliConfig } from '../command-setup.js';
import { sayError } from '../cli-error.js';
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
  const config = loadCliConfig(o.config, { vm: o.vm }, o.json);
  if (typeof config === 'number') return config;
  if (o.watch) return runStatusWatch(config, o);
  const bus = await connectCliOrExit(config, 'status', o.json);
  if (typeof bus === 'number') return bus;
  try {
    const status = await queryPairStatus(bus, config, o.timeoutMs ?? 2_000);
    const vms = status.vms.filter((v) => !o.vm || v.vm === o.vm);
    if (o.json) for (const v of vms) console.log(JSON.stringify(v));
    else {
      for (const v of vms) console.log(formatVmStatus(v));
      for (const s of status.silent) console.error(`agent on ${s.node} did not answer: ${s.reason}`);
    }
    if (status.answered.length === 0) {
      if (o.json) sayError(true, 'NO_AGENT_ANSWERED', `no agent answered: ${status.silent.map((x) => `${x.node}: ${x.reason}`).join('; ')}`);
      return EXIT.unreachable;
    }
    return EXIT.ok;
  } finally {
    await bus.close();
  }
}
