// The QMP adapter's port (implemented in qmp-client.ts): the client, its events, and CallOptions, the one call-options type of every QMP call.
import type { Logger } from '../log.js';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
  /** performance.now() when the line was parsed. */
  receivedAtMs: number;
}

export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The options every role step passes down: CallOptions with the timeout always decided by the caller. */
export interface QmpCall extends CallOptions {
  timeoutMs: number;
}

export interface QmpClient {
  /** Resolves with the `return` value. Rejects with QmpCommandError, QmpTimeoutError, AbortedError or QmpConnectionError. */
  execute(command: string, args?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  /** Same as execute, sent as `exec-oob` (e.g. `yank` on an OOB-capable socket). */
  executeOob(command: string, args?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  /** human-monitor-command; resolves with the HMP output. */
  hmp(commandLine: string, options?: CallOptions): Promise<string>;
  /** Returns an unsubscribe function. A throwing listener is logged and does not disturb the client. */
  onEvent(listener: (event: QmpEvent) => void): () => void;
  /** Events from this call on; ends when the connection closes, on break/return, or when `signal` aborts. */
  events(signal?: AbortSignal): AsyncIterable<QmpEvent>;
  /** Resolves when the connection is gone, whatever the reason. Never rejects. */
  readonly closed: Promise<void>;
  readonly isOpen: boolean;
  /** performance.now() when qemu last wrote a line here (a reply or an event: its main loop ran then); undefined before any. */
  readonly lastHeardAt?: number;
  /** Idempotent. Rejects pending calls with QmpConnectionError. */
  close(): Promise<void>;
}

export interface QmpConnectOptions {
  socketPath: string;
  /** Default per-call timeout, also used for the greeting and capabilities negotiation. Default 5000. */
  timeoutMs?: number;
  /** How long the greeting and capabilities negotiation may take (a qemu still starting greets only once its main loop runs). Default: timeoutMs. */
  handshakeTimeoutMs?: number;
  /** How long to keep retrying while the socket is missing or refuses (qemu still starting). Default 10000. */
  connectTimeoutMs?: number;
  /** Enable the `oob` capability if the greeting offers it. */
  oob?: boolean;
  /** Aborts connecting; has no effect once connectQmp has resolved. */
  signal?: AbortSignal;
  log?: Logger;
}
