import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { isPidAlive, processCmdline, readPidFile, signalPid } from '../local/index.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';
import type { RelaySide } from './relay-args.js';

export const RELAY_BINARY = 'socat';

function pidFileOf(runDir: string, side: RelaySide): string {
  return join(runDir, `relay-${side}.pid`);
}

/** The running relay of this side, if its pid file names a socat serving this socket (never a stranger). */
export function findRelay(runDir: string, side: RelaySide, socket: string): number | null {
  const pid = readPidFile(pidFileOf(runDir, side));
  if (pid === null || !isPidAlive(pid)) return null;
  const cmdline = processCmdline(pid);
  const ours = (cmdline[0] ?? '').endsWith(RELAY_BINARY) && cmdline.some((a) => a.includes(socket));
  return ours ? pid : null;
}

/**
 * Start a relay as a data-plane process like qemu: its own process group,
 * output to a file, not waited for, so it outlives an agent restart (under
 * systemd it stays in the unit's cgroup beside qemu, KillMode=process).
 */
export function startRelay(o: { runDir: string; side: RelaySide; socket: string; args: string[]; binary?: string; log?: Logger }): number {
  stopRelay(o.runDir, o.side, o.socket);
  const out = openSync(join(o.runDir, `relay-${o.side}.log`), 'a');
  const child = spawn(o.binary ?? RELAY_BINARY, o.args, { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${RELAY_BINARY}`);
  child.on('error', (e) => o.log?.warn({ reason: errorMessage(e) }, 'relay failed to start'));
  child.unref();
  writeFileSync(pidFileOf(o.runDir, o.side), `${child.pid}\n`);
  o.log?.info({ side: o.side, pid: child.pid, args: o.args }, 'relay started');
  return child.pid;
}

/** Stop this side's relay, if ours still runs. */
export function stopRelay(runDir: string, side: RelaySide, socket: string): void {
  const pid = findRelay(runDir, side, socket);
  // Its own process group: a TLS listener's per-connection children go with it.
  if (pid !== null && !signalPid(-pid, 'SIGKILL')) signalPid(pid, 'SIGKILL');
  rmSync(pidFileOf(runDir, side), { force: true });
}

/**
 * Whether a unix socket at `path` is listening, as the kernel's table says
 * (a file left by a killed listener is not). Connecting to find out would
 * take the relay's one connection. `pid`: read the table of that process's
 * network namespace (a relay started in another one lists its socket there).
 */
export function isUnixListening(path: string, pid?: number): boolean {
  let table: string;
  try {
    table = readFileSync(`/proc/${pid ?? 'self'}/net/unix`, 'utf8');
  } catch {
    return existsSync(path);
  }
  // Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is __SO_ACCEPTCON (listening).
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[7] === path && (parseInt(f[3] ?? '0', 16) & 0x10000) !== 0;
  });
}

/** Wait until the primary relay (process `pid`) listens on its unix socket. */
export async function awaitSocket(path: string, timeoutMs: number, signal?: AbortSignal, pid?: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isUnixListening(path, pid)) {
    if (Date.now() > deadline) throw new Error(`the relay did not listen on ${path} within ${timeoutMs} ms`);
    await sleep(2, signal);
  }
}
