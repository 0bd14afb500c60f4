import { spawn, type ChildProcess } from 'node:child_process';
import { QemuExitedError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

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
}

export interface LaunchOptions {
  binary: string;
  args: readonly string[];
  log: Logger;
  tailLines?: number;
}

const DEFAULT_TAIL = 40;

/**
 * Start qemu in its own process group, so a Ctrl-C aimed at the agent's
 * terminal does not reach the VM: the agent decides when qemu stops.
 */
export function launchQemu(options: LaunchOptions): QemuProcess {
  const child = spawn(options.binary, [...options.args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid === undefined) {
    throw new QemuExitedError(null, null, [`could not start ${options.binary}`]);
  }
  return new SpawnedQemu(child, child.pid, options.log, options.tailLines ?? DEFAULT_TAIL);
}

class SpawnedQemu implements QemuProcess {
  readonly exited: Promise<QemuExit>;
  private running = true;
  private exit: QemuExit = { code: null, signal: null };
  private readonly tail: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();

  constructor(
    child: ChildProcess,
    readonly pid: number,
    private readonly log: Logger,
    private readonly tailLines: number,
  ) {
    this.follow(child.stdout);
    this.follow(child.stderr);
    child.on('error', (e) => this.push(`spawn error: ${errorMessage(e)}`));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.running = false;
        this.exit = { code, signal };
        this.log.info({ pid: this.pid, code, signal }, 'qemu exited');
        resolve(this.exit);
      });
    });
  }

  private follow(stream: NodeJS.ReadableStream | null): void {
    if (!stream) return;
    let partial = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.push(line);
    });
    stream.on('error', () => undefined);
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
    return [...this.tail];
  }

  onOutput(listener: (line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  exitError(): QemuExitedError {
    return new QemuExitedError(this.exit.code, this.exit.signal, this.tail.slice(-5));
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
