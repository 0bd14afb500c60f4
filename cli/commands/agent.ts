import { loadConfig } from '../../shared/config/index.js';
import { startAgent } from '../../shared/agent/index.js';
import { ColoError, ConfigError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { EXIT } from '../exit-codes.js';

export interface AgentCommandOptions {
  config: string;
  node: string;
  logLevel?: string;
  /** What SIGTERM/SIGINT do to the VMs: stop them, or leave them running to be adopted. */
  onExit?: 'stop-vms' | 'leave-vms';
}

/** `colo-ft agent`: runs one host's agent until SIGINT/SIGTERM. */
export async function runAgent(o: AgentCommandOptions): Promise<number> {
  const log = createLogger('colo-ft', { level: o.logLevel });
  let agent;
  try {
    const config = loadConfig(o.config);
    agent = await startAgent({ config, nodeName: o.node, log });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return EXIT.usage;
    }
    const code = e instanceof NatsUnavailableError ? EXIT.unreachable : EXIT.failed;
    log.error({ reason: errorMessage(e) }, 'agent cannot start');
    console.error(`colo-ft agent: ${errorMessage(e)}`);
    if (!(e instanceof ColoError)) throw e;
    return code;
  }
  const running = agent;
  return new Promise<number>((resolve) => {
    // Under systemd (INVOCATION_ID) a restart must never take the VM down.
    const onExit = o.onExit ?? (process.env.INVOCATION_ID ? 'leave-vms' : 'stop-vms');
    const shutdown = (signal: string) => {
      log.info({ signal, onExit }, 'stopping');
      (onExit === 'leave-vms' ? running.detach() : running.stop()).then(
        () => resolve(EXIT.ok),
        () => resolve(EXIT.failed),
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
