import { closeSync, openSync, readSync, watch, type FSWatcher } from 'node:fs';

/**
 * While someone waits for a line (an HMP qemu-io result): poll often. Otherwise the tail only feeds
 * error messages, which read it fresh, and the debug log: it reads when the file changes (inotify),
 * at most once per TAIL_POLL_IDLE_MS, so a quiet qemu costs its agent no wake-up at all (a poll was 4 a second).
 */
const TAIL_POLL_FAST_MS = 10;
const TAIL_POLL_IDLE_MS = 250;

/**
 * Follows a growing log file line by line from a given offset: one open file
 * and one read buffer for its life (an idle qemu costs a read that returns 0).
 */
export class FileTail {
  private offset: number;
  private partial = '';
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  /** The idle read a change asked for (one per TAIL_POLL_IDLE_MS at most). */
  private pending: NodeJS.Timeout | null = null;
  private fd: number | null = null;
  private readonly buf = Buffer.allocUnsafe(64 * 1024);
  private pollMs = TAIL_POLL_IDLE_MS;
  private stopped = false;

  constructor(
    private readonly path: string,
    private readonly onLine: (line: string) => void,
    offset: number,
  ) {
    this.offset = offset;
    this.arm();
  }

  /** Someone waits for a line (true) or no one does (false): the poll follows, so an idle qemu wakes the agent 4 times a second, not 100. */
  hurry(on: boolean): void {
    const ms = on ? TAIL_POLL_FAST_MS : TAIL_POLL_IDLE_MS;
    if (ms === this.pollMs || this.stopped) return;
    this.pollMs = ms;
    this.arm();
  }

  private arm(): void {
    this.disarm();
    if (this.pollMs === TAIL_POLL_IDLE_MS && this.watchFile()) return;
    this.timer = setInterval(() => this.drain(), this.pollMs);
    this.timer.unref();
  }

  /** Idle: read soon after the file changes; false when it cannot be watched (the caller polls instead). */
  private watchFile(): boolean {
    let w: FSWatcher;
    try {
      w = watch(this.path, { persistent: false }, () => this.drainSoon());
    } catch {
      return false;
    }
    w.on('error', () => {
      if (this.watcher !== w || this.stopped) return;
      this.disarm();
      this.timer = setInterval(() => this.drain(), this.pollMs);
      this.timer.unref();
    });
    this.watcher = w;
    // What was written before the watch began is read as a poll would have.
    this.drainSoon();
    return true;
  }

  private drainSoon(): void {
    this.pending ??= setTimeout(() => {
      this.pending = null;
      this.drain();
    }, TAIL_POLL_IDLE_MS).unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.watcher?.close();
    this.timer = null;
    this.pending = null;
    this.watcher = null;
  }

  drain(): void {
    if (this.fd === null) {
      try {
        this.fd = openSync(this.path, 'r');
      } catch {
        return;
      }
    }
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset);
      } catch {
        this.close();
        return;
      }
      if (n <= 0) break;
      this.offset += n;
      const lines = (this.partial + this.buf.toString('utf8', 0, n)).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) this.onLine(line);
    }
  }

  private close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  stop(): void {
    this.stopped = true;
    this.disarm();
    this.drain();
    this.close();
  }
}
