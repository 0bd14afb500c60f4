import { isDeepStrictEqual } from 'node:util';
import { loadConfig, type Config } from '../../shared/config/index.js';
import { sdNotify, startAgent, watchdogIntervalMs, type Agent } from '../../agent/index.js';
import { ColoError, ConfigError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { EXIT } from '../exit-codes.js';

export interface AgentCommandOptions {
  config: string;
  node: string;
  logLevel?: string;
  /** What SIGTERM/SIGINT do to the VMs: stop them, or leave them running to be adopted. */
  onExit?: 'stop-vms' | 'leave-vms';
}

/**
 * SIGHUP: a new file that fails validation is refused and the running config
 * kept, with every error logged. A valid different file is accepted for the
 * next start; the running machines are never changed mid-transition.
 */
function reloadOnHup(file: string, running: Config, log: Logger): void {
  let current = running;
  process.on('SIGHUP', () => {
    try {
      const next = loadConfig(file);
      if (isDeepStrictEqual(next, current)) return void log.info({ file }, 'reload: configuration unchanged');
      current = next;
      log.warn({ file }, 'reload: configuration valid and changed; it applies when the agent restarts (running VMs are adopted, not restarted)');
    } catch (e) {
      const issues = e instanceof ConfigError ? e.issues : [{ path: '', message: errorMessage(e) }];
      log.error({ file, issues }, 'reload refused: the new configuration is invalid; keeping the running one');
    }
  });
}

/** Readiness once every VM has started, then WATCHDOG=1 only after a real health check. */
function notifySystemd(agent: Agent, log: Logger): NodeJS.Timeout | null {
  void sdNotify(['--ready', `--status=agent ${agent.node} running ${agent.controllers().length} VM(s)`], log);
  const every = watchdogIntervalMs();
  if (every === null) return null;
  return setInterval(() => {
    void agent.healthy().then((ok) => (ok ? sdNotify(['WATCHDOG=1'], log) : log.warn('health check failed: not feeding the watchdog')));
  }, every);
}

/** `colo-ft agent`: runs one host's agent until SIGINT/SIGTERM. */
export async function runAgent(o: AgentCommandOptions): Promise<number> {
  const log = createLogger('colo-ft', { level: o.logLevel });
  let agent: Agent;
  let config: Config;
  try {
    config = loadConfig(o.config);
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
  reloadOnHup(o.config, config, log);
  const watchdog = notifySystemd(agent, log);
  return new Promise<number>((resolve) => {
    // Under systemd (INVOCATION_ID) a restart must never take the VM down.
    const onExit = o.onExit ?? (process.env.INVOCATION_ID ? 'leave-vms' : 'stop-vms');
    const shutdown = (signal: string) => {
      log.info({ signal, onExit }, 'stopping');
      if (watchdog) clearInterval(watchdog);
      void sdNotify(['--stopping'], log);
      (onExit === 'leave-vms' ? agent.detach() : agent.stop()).then(
        () => resolve(EXIT.ok),
        () => resolve(EXIT.failed),
      );
    };
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.once('SIGTERM', () => shutdown('SIGTERM'));
  });
}
