import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { QemuExitedError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { FileTail } from './file-tail.js';

export interface QemuExit {
  code: number | null;
  signal: string | null;
}

export interface QemuProcess {
  readonly pid: number;
  /** Resolves once the process is gone; never rejects. */
  readonly exited: Promise<QemuExit>;
  readonly isRunning: boolean;
  /** Last lines qemu printed (stdout and stderr interleaved): errors, and qemu-io results. */
  outputTail(): string[];
  /** Follow qemu's output line by line (HMP qemu-io prints its result there). */
  onOutput(listener: (line: string) => void): () => void;
  exitError(): QemuExitedError;
  /** SIGKILL qemu (crash drill, fencing, a hung qemu). Throws as `process.kill` does when it cannot be signalled (e.g. ESRCH). */
  kill(): void;
  /** SIGSTOP qemu: a hang drill. Throws as `kill()` does. */
  freeze(): void;
}

export interface LaunchOptions {
  binary: string;
  args: readonly string[];
  log: Logger;
  /**
   * qemu's stdout and stderr go to this file, not to pipes: qemu must outlive
   * the agent (a restarted agent adopts it), and a pipe to a dead agent would not.
   */
  outputFile: string;
  tailLines?: number;
}

const DEFAULT_TAIL = 40;
function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Start qemu in its own process group, so a Ctrl-C aimed at the agent's
 * terminal does not reach the VM: the agent decides when qemu stops.
 */
export function launchQemu(options: LaunchOptions): QemuProcess {
  // Output of earlier runs stays in the file; follow only what this qemu writes.
  const startAt = sizeOf(options.outputFile);
  const out = openSync(options.outputFile, 'a');
  const child = spawn(options.binary, [...options.args], { stdio: ['ignore', out, out], detached: true });
  closeSync(out);
  if (child.pid === undefined) {
    throw new QemuExitedError(null, null, [`could not start ${options.binary}`]);
  }
  const proc = new TrackedQemu(child.pid, options.log, options.tailLines ?? DEFAULT_TAIL, options.outputFile, startAt);
  child.on('error', (e) => proc.fail(`spawn error: ${errorMessage(e)}`));
  child.on('exit', (code, signal) => proc.ended({ code, signal }));
  // The agent need not wait for qemu: a restarted agent adopts it.
  child.unref();
  return proc;
}

/** Take over a qemu started by an earlier agent: its exit is noticed by polling, its output by tailing its log. */
export function adoptQemu(options: { pid: number; outputFile: string; log: Logger; tailLines?: number }): QemuProcess {
  const proc = new TrackedQemu(options.pid, options.log, options.tailLines ?? DEFAULT_TAIL, options.outputFile, sizeOf(options.outputFile));
  const poll = setInterval(() => {
    try {
      process.kill(options.pid, 0);
    } catch {
      clearInterval(poll);
      proc.ended({ code: null, signal: null });
    }
  }, 50);
  poll.unref();
  void proc.exited.then(() => clearInterval(poll));
  return proc;
}

class TrackedQemu implements QemuProcess {
  readonly exited: Promise<QemuExit>;
  private running = true;
  private exit: QemuExit = { code: null, signal: null };
  private readonly tail: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  private resolveExit!: (e: QemuExit) => void;
  private readonly file: FileTail;

  constructor(
    readonly pid: number,
    private readonly log: Logger,
    private readonly tailLines: number,
    outputFile: string,
    offset: number,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.file = new FileTail(outputFile, (line) => this.push(line), offset);
  }

  fail(line: string): void {
    this.push(line);
  }

  ended(exit: QemuExit): void {
    if (!this.running) return;
    this.file.stop();
    this.running = false;
    this.exit = exit;
    this.log.info({ pid: this.pid, code: exit.code, signal: exit.signal }, 'qemu exited');
    this.resolveExit(exit);
  }

  private push(line: string): void {
    const trimmed = line.replace(/\r$/, '');
    if (!trimmed) return;
    this.tail.push(trimmed);
    if (this.tail.length > this.tailLines) this.tail.shift();
    this.log.debug({ pid: this.pid, line: trimmed }, 'qemu output');
    for (const l of this.listeners) l(trimmed);
  }

  get isRunning(): boolean {
    return this.running;
  }

  outputTail(): string[] {
    if (this.running) this.file.drain();
    return [...this.tail];
  }

  onOutput(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    this.file.hurry(true);
    return () => {
      this.listeners.delete(listener);
      this.file.hurry(this.listeners.size > 0);
    };
  }

  exitError(): QemuExitedError {
    return new QemuExitedError(this.exit.code, this.exit.signal, this.tail.slice(-5));
  }

  kill(): void {
    process.kill(this.pid, 'SIGKILL');
  }

  freeze(): void {
    process.kill(this.pid, 'SIGSTOP');
  }
}

export interface StopOptions {
  /** Ask qemu to quit politely first (QMP `quit`), if a monitor is at hand. */
  quit?: () => Promise<unknown>;
  graceMs?: number;
}

function waitExit(proc: QemuProcess, ms: number): Promise<boolean> {
  if (!proc.isRunning) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void proc.exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone: that is what we want
  }
}

/** quit, then SIGTERM, then SIGKILL; resolves when the pid is gone. Already gone is success. */
export async function stopQemu(proc: QemuProcess, options: StopOptions = {}): Promise<QemuExit> {
  const graceMs = options.graceMs ?? 3_000;
  if (proc.isRunning && options.quit) {
    await options.quit().catch(() => undefined);
    if (await waitExit(proc, graceMs)) return proc.exited;
  }
  if (proc.isRunning) {
    signal(proc.pid, 'SIGTERM');
    if (await waitExit(proc, graceMs)) return proc.exited;
  }
  if (proc.isRunning) {
    signal(proc.pid, 'SIGKILL');
    await proc.exited;
  }
  return proc.exited;
}
