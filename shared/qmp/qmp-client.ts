import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import {
  AbortedError,
  QmpCommandError,
  QmpConnectionError,
  QmpProtocolError,
  QmpTimeoutError,
} from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { dialUnixSocket } from './dial.js';
import { eventStream } from './event-stream.js';
import type { CallOptions, QmpClient, QmpConnectOptions, QmpEvent } from './qmp-types.js';

export type { CallOptions, QmpCall, QmpClient, QmpConnectOptions, QmpEvent } from './qmp-types.js';

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// Node fires larger timers immediately; treat them as "no timeout".
const MAX_TIMER_MS = 2 ** 31 - 1;

type Json = Record<string, unknown>;
interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export async function connectQmp(options: QmpConnectOptions): Promise<QmpClient> {
  const { socketPath, signal, oob = false } = options;
  const log = (options.log ?? silentLogger()).child({ qmpSocket: socketPath });
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const handshakeMs = options.handshakeTimeoutMs ?? timeoutMs;
  const socket = await dialUnixSocket(socketPath, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, log, signal);
  const client = new QmpConnection(socket, timeoutMs, log);
  try {
    const greeting = await client.greeting(handshakeMs, signal);
    const offered = Array.isArray(greeting.capabilities)
      ? greeting.capabilities.filter((c): c is string => typeof c === 'string')
      : [];
    const enable = oob && offered.includes('oob') ? ['oob'] : [];
    if (oob && enable.length === 0) log.warn({ offered }, 'qmp oob requested but not offered');
    await client.execute('qmp_capabilities', enable.length ? { enable } : undefined, { timeoutMs: handshakeMs, signal });
    log.debug({ version: greeting.version, enabled: enable }, 'qmp ready');
    return client;
  } catch (err) {
    await client.close();
    if (err instanceof AbortedError || err instanceof QmpConnectionError) throw err;
    throw new QmpConnectionError(`QMP handshake on ${socketPath} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

class QmpConnection implements QmpClient {
  #lastHeardAt: number | undefined = undefined;
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #timeoutMs: number;
  readonly #log: Logger;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<(event: QmpEvent) => void>();
  readonly #closeHooks = new Set<() => void>();
  #greetingWaiter: ((msg: Json) => void) | undefined;
  #buffer = '';
  #nextId = 1;
  #open = true;
  #lastError: Error | undefined;

  constructor(socket: Socket, timeoutMs: number, log: Logger) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#log = log;
    // The decoder keeps a multi-byte character split across two chunks intact.
    socket.setEncoding('utf8');
    socket.on('error', (err) => {
      this.#lastError = err;
      log.debug({ err }, 'qmp socket error');
    });
    socket.on('data', (chunk: string) => this.#onData(chunk));
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.#teardown(new QmpConnectionError('QMP connection lost', { cause: this.#lastError }));
        resolve();
      });
    });
  }

  get isOpen(): boolean {
    return this.#open;
  }

  get lastHeardAt(): number | undefined {
    return this.#lastHeardAt;
  }

  execute(command: string, args?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    return this.#send('execute', command, args, options);
  }

  executeOob(command: string, args?: Record<string, unknown>, options?: CallOptions): Promise<unknown> {
    return this.#send('exec-oob', command, args, options);
  }

  async hmp(commandLine: string, options?: CallOptions): Promise<string> {
    const out = await this.execute('human-monitor-command', { 'command-line': commandLine }, options);
    if (typeof out !== 'string') throw new QmpProtocolError('QMP human-monitor-command reply: expected a string');
    return out;
  }

  onEvent(listener: (event: QmpEvent) => void): () => void {
    const entry = (event: QmpEvent): void => listener(event);
    this.#listeners.add(entry);
    return () => void this.#listeners.delete(entry);
  }

  events(signal?: AbortSignal): AsyncIterableIterator<QmpEvent> {
    const source = {
      subscribe: (listener: (event: QmpEvent) => void) => this.onEvent(listener),
      onClose: (hook: () => void) => {
        this.#closeHooks.add(hook);
        return () => void this.#closeHooks.delete(hook);
      },
      isOpen: this.#open,
    };
    return eventStream(source, signal);
  }

  close(): Promise<void> {
    this.#teardown(new QmpConnectionError('QMP connection closed by client'));
    this.#socket.destroy();
    return this.closed;
  }

  /** Waits for the `QMP` member of the greeting, which must be the first message. */
  greeting(timeoutMs: number, signal?: AbortSignal): Promise<Json> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#closeHooks.delete(onClose);
        this.#greetingWaiter = undefined;
      };
      const fail = (err: Error): void => {
        done();
        reject(err);
      };
      const onAbort = (): void => fail(new AbortedError('QMP connect'));
      const onClose = (): void =>
        fail(new QmpConnectionError('QMP connection closed before the greeting', { cause: this.#lastError }));
      // A second client on an occupied monitor socket gets no greeting at all.
      const timer = setTimeout(
        () => fail(new QmpConnectionError(`no QMP greeting within ${timeoutMs} ms (socket owned by another client?)`)),
        timeoutMs,
      );
      this.#greetingWaiter = (msg) => {
        done();
        if (isRecord(msg.QMP)) resolve(msg.QMP);
        else reject(new QmpProtocolError(`expected a QMP greeting, got ${JSON.stringify(msg).slice(0, 200)}`));
      };
      this.#closeHooks.add(onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
      else if (!this.#open) onClose();
    });
  }

  #send(verb: 'execute' | 'exec-oob', command: string, args: Json | undefined, options: CallOptions = {}): Promise<unknown> {
    const { signal } = options;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    if (signal?.aborted) return Promise.reject(new AbortedError(`QMP ${command}`));
    if (!this.#open) {
      return Promise.reject(new QmpConnectionError(`QMP connection closed; cannot run ${command}`, { cause: this.#lastError }));
    }
    const id = String(this.#nextId++);
    let line: string;
    try {
      // JSON.stringify never emits a raw newline, so this is exactly one line, written in one call.
      line = `${JSON.stringify(args === undefined ? { [verb]: command, id } : { [verb]: command, arguments: args, id })}\n`;
    } catch (err) {
      return Promise.reject(new QmpProtocolError(`QMP ${command}: arguments are not serialisable`, { cause: err }));
    }
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(id);
      };
      const onAbort = (): void => {
        settle();
        reject(new AbortedError(`QMP ${command}`));
      };
      const timer =
        Number.isFinite(timeoutMs) && timeoutMs <= MAX_TIMER_MS
          ? setTimeout(() => {
              settle();
              reject(new QmpTimeoutError(command, timeoutMs));
            }, timeoutMs)
          : undefined;
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        command,
        resolve: (value) => (settle(), resolve(value)),
        reject: (err) => (settle(), reject(err)),
      });
      this.#log.debug({ id, line: line.trimEnd() }, 'qmp send');
      this.#socket.write(line);
    });
  }

  #teardown(reason: QmpConnectionError): void {
    if (!this.#open) return;
    this.#open = false;
    this.#log.debug({ reason: reason.message, cause: this.#lastError?.message }, 'qmp closed');
    for (const pending of [...this.#pending.values()]) pending.reject(reason);
    for (const hook of [...this.#closeHooks]) hook();
  }

  #onData(chunk: string): void {
    const lines = (this.#buffer + chunk).split('\n');
    this.#buffer = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.trim();
      if (line && this.#open) this.#onLine(line);
    }
  }

  #onLine(line: string): void {
    const receivedAtMs = performance.now();
    this.#lastHeardAt = receivedAtMs;
    this.#log.debug({ line }, 'qmp receive');
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      msg = undefined;
    }
    if (!isRecord(msg)) {
      this.#log.warn({ line: line.slice(0, 200) }, 'qmp line is not a JSON object, skipped');
      return;
    }
    if (this.#greetingWaiter) {
      // qemu can write an event on a just-accepted connection before its greeting (seen with
      // -incoming: MIGRATION setup at start-up, emitted before the monitor's "opened" runs).
      if (typeof msg.event === 'string' && !('QMP' in msg)) {
        this.#log.debug({ event: msg.event }, 'qmp event before the greeting, skipped');
        return;
      }
      return this.#greetingWaiter(msg);
    }
    if (typeof msg.event === 'string') return this.#dispatchEvent(msg, msg.event, receivedAtMs);
    if ('return' in msg || 'error' in msg) return this.#dispatchReply(msg);
    if (!('QMP' in msg)) this.#log.warn({ line: line.slice(0, 200) }, 'qmp message of unknown shape, skipped');
  }

  #dispatchReply(msg: Json): void {
    const pending = typeof msg.id === 'string' ? this.#pending.get(msg.id) : undefined;
    if (!pending) {
      // No id at all means qemu could not even read one of our commands: worth an operator's look.
      if (msg.id === undefined && 'error' in msg) this.#log.warn({ error: msg.error }, 'qmp error reply without id');
      else this.#log.debug({ id: msg.id }, 'qmp reply for no pending call, ignored');
      return;
    }
    if (!('error' in msg)) return pending.resolve(msg.return);
    const error = isRecord(msg.error) ? msg.error : {};
    pending.reject(
      new QmpCommandError(
        pending.command,
        typeof error.class === 'string' ? error.class : 'GenericError',
        typeof error.desc === 'string' ? error.desc : JSON.stringify(msg.error),
      ),
    );
  }

  #dispatchEvent(msg: Json, name: string, receivedAtMs: number): void {
    const ts = isRecord(msg.timestamp) ? msg.timestamp : {};
    const event: QmpEvent = {
      event: name,
      data: isRecord(msg.data) ? msg.data : {},
      timestamp: {
        seconds: typeof ts.seconds === 'number' ? ts.seconds : 0,
        microseconds: typeof ts.microseconds === 'number' ? ts.microseconds : 0,
      },
      receivedAtMs,
    };
    for (const listener of [...this.#listeners]) {
      try {
        const result: unknown = listener(event);
        if (result instanceof Promise) {
          result.catch((err: unknown) => this.#log.warn({ err, event: name }, 'qmp event listener failed'));
        }
      } catch (err) {
        this.#log.warn({ err, event: name }, 'qmp event listener failed');
      }
    }
  }
}
