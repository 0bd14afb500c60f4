import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * Send `signal` to a local process (0 only checks it exists). False when it
 * could not be signalled (already gone, or not ours); never throws.
 */
export function signalPid(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

export function isPidAlive(pid: number): boolean {
  if (!signalPid(pid, 0)) return false;
  // A zombie still answers signal 0 but is gone for our purposes.
  try {
    return !/^\d+ \([^)]*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

export function readPidFile(path: string): number | null {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function processCmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** PIDs of live processes whose program is `isProgram(basename)` and whose command line mentions `dir` (a scan of /proc). */
export function pidsUnder(dir: string, isProgram: (name: string) => boolean): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = processCmdline(pid);
    if (argv[0] && isProgram(basename(argv[0])) && argv.some((a) => a.includes(dir)) && isPidAlive(pid)) pids.push(pid);
  }
  return pids;
}
