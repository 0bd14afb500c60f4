import { connectCliOrExit, loadCliConfig } from '../command-setup.js';
import { errorMessage } from '../../shared/errors.js';
import type { NodeStatus } from '../../shared/nats/index.js';
import { sayError } from '../cli-error.js';
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
    `restore of ${r.vm}: ${r.protected ? 'PROTECTED' : 'NOT PROTECTED'}${r.protected && !r.restored ? ' (nothing restored)' : ''}`,
    `  primary ${r.survivor ?? '-'}, secondary ${r.target ?? '-'}, epoch ${r.epoch}`,
    `  resync ${ms(r.resyncMs)}, guest pause ${r.pauseMs === null ? '-' : `${r.pauseMs.toFixed(1)} ms`}, total ${ms(r.totalMs)}, attempts ${r.attempts}`,
    ...(r.request ? [`  ${r.survivor ?? 'survivor'} said: ${r.request.reason}`] : []),
    `  ${r.reason}`,
  ].join('\n');
}

export async function runRestoreCommand(o: RestoreCommandOptions): Promise<number> {
  const config = loadCliConfig(o.config, { vm: o.vm, node: o.to }, o.json);
  if (typeof config === 'number') return config;
  const bus = await connectCliOrExit(config, 'restore', o.json);
  if (typeof bus === 'number') return bus;
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
    sayError(o.json, 'RESTORE_FAILED', `restore: ${errorMessage(e)}`);
    return EXIT.failed;
  } finally {
    await bus.close();
  }
}
