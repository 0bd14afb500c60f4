import { connectCliOrExit, loadCliConfig } from '../command-setup.js';
import { createInterface } from 'node:readline/promises';
import { errorMessage } from '../../shared/errors.js';
import type { DrillMode } from '../../shared/nats/index.js';
import { runDrillWithRestore, type DrillReport } from '../drill/run-drill.js';
import { formatRestoreReport } from './restore.js';
import { sayError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';

export interface DrillCommandOptions {
  config: string;
  vm: string;
  fail: 'primary' | 'secondary';
  mode: DrillMode;
  yes?: boolean;
  json?: boolean;
  timeoutMs?: number;
  restore?: boolean;
}

function ms(v: number | null): string {
  return v === null ? '-' : `${v} ms`;
}

export function formatDrillReport(r: DrillReport): string {
  const lines = [
    `drill ${r.mode} on the ${r.failed === r.survivor ? '?' : r.failed} side of ${r.vm}: ${r.ok ? 'PASSED' : 'FAILED'}`,
    `  fault injected   0 ms  (${r.failed})`,
    `  detected         ${ms(r.detectedMs)}`,
    `  lease won        ${ms(r.leaseWonMs)}`,
    `  takeover done    ${ms(r.takeoverMs)}  (${r.survivor})`,
    `  confirmed        ${ms(r.totalMs)}`,
    `  epoch            ${r.epochBefore} -> ${r.epochAfter}`,
    `  data verified    ${r.dataVerified ? 'yes' : 'no'}${r.dataDisk === null ? '' : ` (disk ${r.dataDisk}${r.dataDiskIsCanary ? ', the canary' : ''})`}`,
    `  single active VM ${r.singleActive ? 'yes' : 'no'}`,
    `  ${r.reason}`,
  ];
  if (r.restore) lines.push(formatRestoreReport(r.restore));
  return lines.join('\n');
}

/** Ask before breaking something on purpose; a script must say --yes. */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

export async function runDrillCommand(o: DrillCommandOptions): Promise<number> {
  const config = loadCliConfig(o.config, { vm: o.vm }, o.json);
  if (typeof config === 'number') return config;
  if (!o.yes && !(await confirm(`This ${o.mode === 'crash' ? 'kills' : o.mode === 'hang' ? 'freezes' : 'cuts off'} the ${o.fail} of ${o.vm}. Go on?`))) {
    sayError(o.json, 'NOT_CONFIRMED', 'drill not confirmed (use --yes to run without asking)');
    return EXIT.usage;
  }
  const bus = await connectCliOrExit(config, 'drill', o.json);
  if (typeof bus === 'number') return bus;
  try {
    const report = await runDrillWithRestore(bus, config, {
      vm: o.vm,
      fail: o.fail,
      mode: o.mode,
      timeoutMs: o.timeoutMs,
      restore: o.restore,
      progress: (line) => (o.json ? undefined : console.error(`drill: ${line}`)),
    });
    console.log(o.json ? JSON.stringify(report) : formatDrillReport(report));
    return report.ok ? EXIT.ok : EXIT.failed;
  } catch (e) {
    sayError(o.json, 'DRILL_FAILED', `drill: ${errorMessage(e)}`);
    return EXIT.failed;
  } finally {
    await bus.close();
  }
}
