import { mkdtempSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../shared/config/index.js';
import { startFeedServer } from '../../shared/feed/index.js';
import { silentLogger } from '../../shared/log.js';
import { sleep } from '../../shared/sleep.js';
import { errorMessage } from '../../shared/errors.js';
import { connectCli } from '../connect.js';
import type { LocalConfigPaths } from '../demo/local-configs.js';
import { startLocalPair } from '../demo/local-pair.js';
import { LOCAL_NODES, nodeDirs } from '../demo/pair-config.js';
import { buildTinyGuest, tinyGuestVm } from '../demo/tiny-guest.js';
import { guestReady, lastConsoleCounter } from '../../shared/guest-records/index.js';
import { isKvmUsable } from '../../shared/local/index.js';
import { EXIT } from '../exit-codes.js';
import { changeSignature, LiveView } from '../live-view.js';
import { formatVmStatus } from '../format.js';
import { runDrillWithRestore } from '../drill/run-drill.js';
import { confirm, formatDrillReport } from './drill.js';
import type { DrillMode } from '../../shared/nats/index.js';
import { queryPairStatus } from '../pair-status.js';

export interface DemoOptions {
  until?: string;
  json?: boolean;
  timeoutMs: number;
  dir?: string;
  accelerator?: 'auto' | 'kvm' | 'tcg';
  intervalMs: number;
  drill?: 'primary' | 'secondary';
  mode?: DrillMode;
  yes?: boolean;
  restore?: boolean;
  /** Protect the tiny Linux guest instead of the drive-only VM. */
  guest?: boolean;
}

/** The tiny guest, built under the user's cache (once), as the demo's VM; TCG unless KVM was asked for or is usable. */
async function guestVm(o: DemoOptions, dir: string): Promise<Record<string, unknown>> {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'colo-ft', 'tiny-guest');
  say(o, `demo: building the tiny Linux guest in ${cache} (Debian kernel + busybox, downloaded once)`);
  const guest = await buildTinyGuest(cache);
  const accel = o.accelerator === 'kvm' || (o.accelerator !== 'tcg' && isKvmUsable()) ? 'kvm' : 'tcg';
  if (accel === 'tcg') say(o, 'demo: TCG: the guest runs with periodic checkpoints off (QEMU 7.2 deadlocks on them with vCPUs under TCG)');
  say(o, `demo: guest consoles: ${dir}/{alpha,beta}/run/vm1/console.log`);
  return tinyGuestVm(guest, accel);
}

/** The guest's last counter on each node's serial console (live, from the console logs). */
function guestConsoleLine(dir: string): string {
  const counters = LOCAL_NODES.map((n) => {
    let text = '';
    try {
      text = readFileSync(join(nodeDirs(dir, n.name).runtimeDir, 'vm1', 'console.log'), 'latin1');
    } catch {
      // no console yet
    }
    return `${n.name} ${lastConsoleCounter(text) ?? (guestReady(text) ? 'booted' : '-')}`;
  });
  return `guest console counter: ${counters.join(', ')}`;
}

function say(o: DemoOptions, line: string): void {
  // With --json, stdout carries only the status object; narration goes to stderr.
  (o.json ? console.error : console.log)(line);
}

/** The commands to point at the demo's pair from another terminal, which config holds which login, and what its NATS is. */
export function tryItLines(configs: LocalConfigPaths): string[] {
  const op = `--config ${configs.operator}`;
  const ro = `--config ${configs.dashboard}`;
  const agents = Object.values(configs.nodes).join(' and ');
  return [
    "demo: the pair's NATS listens on 127.0.0.1 only and takes only this run's logins (the production account: per-subject permissions, no anonymous clients); its data channels use TLS",
    `demo: NATS logins: ${configs.operator} operator (status, drill, restore), ${configs.dashboard} read-only (serve, status --watch: cannot command an agent), ${agents} each agent's own`,
    'demo: from another terminal:',
    `  colo-ft status ${op}`,
    `  colo-ft status --watch ${ro}`,
    `  colo-ft drill ${op} --vm vm1 --fail primary`,
    `  colo-ft restore ${op} --vm vm1`,
    `  colo-ft serve ${ro}`,
  ];
}

/** `colo-ft demo`: a protected pair on loopback, its status printed live, torn down on Ctrl-C. */
export async function runDemo(o: DemoOptions): Promise<number> {
  if (o.until !== undefined && o.until !== 'protected') {
    console.error(`--until takes 'protected', not '${o.until}'`);
    return EXIT.usage;
  }
  if (o.drill && !o.yes && !(await confirm(`The demo will ${o.mode === 'hang' ? 'freeze' : o.mode === 'partition' ? 'cut off' : 'kill'} its ${o.drill} once protected. Go on?`))) {
    console.error('drill not confirmed (use --yes to run without asking)');
    return EXIT.usage;
  }
  const until = o.drill ? 'protected' : o.until;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'colo-ft-demo-'));
  say(o, `demo: working in ${dir}`);
  const vmExtra = o.guest ? await guestVm(o, dir) : undefined;
  const pair = await startLocalPair({ dir, accelerator: o.accelerator, vmExtra });
  say(o, `demo: nats-server pid ${pair.nats.pid} at ${pair.nats.url}; agents alpha (primary) and beta (secondary) starting`);
  const config = loadConfig(pair.configPath);
  // Status and drills go with the operator's login; the dashboard reads with the read-only one, as `serve` does.
  const bus = await connectCli(config, 'demo');
  const dashboardConfig = loadConfig(pair.configs.dashboard);
  const dashboardBus = await connectCli(dashboardConfig, 'demo-dashboard');
  const dashboard = await startFeedServer({ bus: dashboardBus, config: dashboardConfig, listen: '127.0.0.1:0', log: silentLogger() });
  // The one line a newcomer needs to open the dashboard (stdout stays JSON-only with --json).
  say(o, `dashboard: ${dashboard.url}`);
  say(o, tryItLines(pair.configs).join('\n'));
  const view = new LiveView(process.stdout, process.stdout.columns || 120);
  let interrupted = false;
  const stop = new AbortController();
  const onSignal = () => {
    interrupted = true;
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let code: number = EXIT.ok;
  try {
    const started = Date.now();
    let lastPrinted = '';
    while (!stop.signal.aborted) {
      const status = await queryPairStatus(bus, config, 1_000).catch(() => null);
      const vm = status?.vms[0];
      if (until === 'protected') {
        if (vm?.protected && o.drill) {
          say(o, formatVmStatus(vm));
          const report = await runDrillWithRestore(bus, config, { vm: vm.vm, fail: o.drill, mode: o.mode ?? 'crash', restore: o.restore, progress: (l) => say(o, `drill: ${l}`) });
          console.log(o.json ? JSON.stringify(report) : formatDrillReport(report));
          code = report.ok ? EXIT.ok : EXIT.failed;
          break;
        }
        if (vm?.protected) {
          if (o.json) console.log(JSON.stringify(vm));
          else console.log(formatVmStatus(vm));
          break;
        }
        if (Date.now() - started > o.timeoutMs) {
          const reason = vm ? vm.reason : 'no agent answered';
          console.error(`demo: not protected within ${o.timeoutMs} ms: ${reason} (logs in ${dir})`);
          if (o.json && vm) console.log(JSON.stringify(vm));
          code = EXIT.failed;
          break;
        }
      } else if (vm && o.json) {
        const sig = changeSignature(vm);
        if (sig !== lastPrinted) console.log(JSON.stringify(vm));
        lastPrinted = sig;
      } else if (vm) {
        view.show(o.guest ? [{ ...vm, reason: `${vm.reason} | ${guestConsoleLine(dir)}` }] : [vm]);
      }
      await sleep(until ? 100 : o.intervalMs, stop.signal).catch(() => undefined);
    }
  } catch (e) {
    console.error(`demo: ${errorMessage(e)}`);
    code = EXIT.failed;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await dashboard.close();
    await dashboardBus.close();
    await bus.close();
    say(o, 'demo: tearing down');
    const left = await pair.teardown();
    if (left.length) {
      console.error(`demo: processes still alive after teardown: ${left.join(', ')}`);
      code = EXIT.failed;
    } else say(o, `demo: stopped ${pair.pids().length ? 'agents, qemu and nats-server' : 'everything'}; no process left behind`);
  }
  return interrupted && code === EXIT.ok ? EXIT.ok : code;
}
