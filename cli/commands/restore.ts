import { loadConfig } from '../../shared/config/index.js';
import { ConfigError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import type { NodeStatus } from '../../shared/nats/index.js';
import { connectCli } from '../connect.js';
import { EXIT } from '../exit-codes.js';
import { runRestore, type RestoreReport } from '../restore/run-restore.js';

export interface RestoreCommandOptions {
  config: string;
  vm: string;
  to?: string;
  bandwidth?: number;
  json?: boolean;
  timeoutMs?: number;
}

const MiB = 1024 * 1024;

/** One line of progress: a bar on a terminal (redrawn in place), plain periodic lines otherwise. */
export function progressLine(s: NodeStatus, width = 30): string {
  const r = s.resync;
  if (!r) return `${s.phase}: ${s.reason}`;
  const frac = r.bytesTotal > 0 ? Math.min(1, r.bytesDone / r.bytesTotal) : 0;
  const filled = Math.round(frac * width);
  const eta = r.etaMs === null ? '-' : `${Math.ceil(r.etaMs / 1000)} s`;
  return `${r.phase.padEnd(14)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${(r.bytesDone / MiB).toFixed(0)}/${(r.bytesTotal / MiB).toFixed(0)} MiB  ${(r.rateBytesPerSec / MiB).toFixed(1)} MiB/s  ETA ${eta}  (attempt ${r.attempts})`;
}

export function formatRestoreReport(r: RestoreReport): string {
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`);
  return [
    `restore of ${r.vm}: ${r.protected ? 'PROTECTED' : 'NOT PROTECTED'}`,
    `  primary ${r.survivor ?? '-'}, secondary ${r.target ?? '-'}, epoch ${r.epoch}`,
    `  resync ${ms(r.resyncMs)}, guest pause ${r.pauseMs === null ? '-' : `${r.pauseMs.toFixed(1)} ms`}, total ${ms(r.totalMs)}, attempts ${r.attempts}`,
    `  ${r.reason}`,
  ].join('\n');
}

export async function runRestoreCommand(o: RestoreCommandOptions): Promise<number> {
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
  if (!config.vms.some((v) => v.name === o.vm)) {
    console.error(`no VM named '${o.vm}' in ${o.config}`);
    return EXIT.usage;
  }
  if (o.to && !config.nodes.some((n) => n.name === o.to)) {
    console.error(`no node named '${o.to}' in ${o.config}`);
    return EXIT.usage;
  }
  let bus;
  try {
    bus = await connectCli(config, 'restore');
  } catch (e) {
    console.error(`NATS unreachable: ${e instanceof NatsUnavailableError ? e.message : errorMessage(e)}`);
    return EXIT.unreachable;
  }
  const tty = process.stderr.isTTY && !o.json;
  let lastPrinted = 0;
  try {
    const report = await runRestore(bus, config, {
      vm: o.vm,
      to: o.to,
      bandwidthBytesPerSec: o.bandwidth,
      timeoutMs: o.timeoutMs,
      onProgress: (s) => {
        if (o.json) return;
        if (tty) process.stderr.write(`\r${progressLine(s)}`);
        else if (Date.now() - lastPrinted >= 1_000) {
          lastPrinted = Date.now();
          console.error(progressLine(s));
        }
      },
    });
    if (tty) process.stderr.write('\n');
    console.log(o.json ? JSON.stringify(report) : formatRestoreReport(report));
    return report.protected ? EXIT.ok : EXIT.failed;
  } catch (e) {
    console.error(`restore: ${errorMessage(e)}`);
    return EXIT.failed;
  } finally {
    await bus.close();
  }
}
