/**
 * The whole error tree. Code branches on `recovery` and on the class, never on
 * message text. `transient`: retry may help; `local`: this operation failed,
 * the process carries on; `fatal`: stop the process (only these escape the agent).
 */
export type Recovery = 'transient' | 'local' | 'fatal';

export class ColoError extends Error {
  readonly recovery: Recovery;
  constructor(message: string, recovery: Recovery, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.recovery = recovery;
  }
}

export interface ConfigIssue {
  /** Dotted path into the config, e.g. `vms[0].disks[1].colo-params`. */
  path: string;
  message: string;
}

export class ConfigError extends ColoError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown; source?: string }) {
    const where = options?.source ? `${options.source}: ` : '';
    const lines = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super(`${where}invalid configuration\n  ${lines.join('\n  ')}`, 'fatal', options);
    this.issues = issues;
  }
}

/** A message from the network that failed its schema. */
export class ProtocolError extends ColoError {
  constructor(
    readonly subject: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`bad message on ${subject}: ${detail}`, 'local', options);
  }
}

export class QmpCommandError extends ColoError {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`, 'local');
  }
}

/** HMP answers a failed command with text, not a QMP error: a non-empty reply where none was expected. */
export class HmpCommandError extends ColoError {
  constructor(
    readonly command: string,
    readonly output: string,
  ) {
    super(`HMP '${command}' failed: ${output}`, 'local');
  }
}

export class QmpTimeoutError extends ColoError {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`QMP ${command} got no reply within ${timeoutMs} ms`, 'transient');
  }
}

/** The QMP connection is gone (qemu exited, socket closed) or never came up. */
export class QmpConnectionError extends ColoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'local', options);
  }
}

/** A QMP reply that does not have the shape we rely on. */
export class QmpProtocolError extends ColoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'local', options);
  }
}

export class QemuExitedError extends ColoError {
  constructor(
    readonly code: number | null,
    readonly signal: string | null,
    readonly stderrTail: readonly string[],
  ) {
    const how = signal ? `signal ${signal}` : `code ${code}`;
    const tail = stderrTail.length ? `: ${stderrTail.join(' | ')}` : '';
    super(`qemu exited with ${how}${tail}`, 'local');
  }
}

/** qemu or qemu-img is missing, too old, or lacks a command we need. */
export class QemuUnsupportedError extends ColoError {
  constructor(message: string) {
    super(message, 'fatal');
  }
}

/** A disk image problem: wrong size, missing file, qemu-img failure. */
export class DiskError extends ColoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'local', options);
  }
}

export class PeerUnreachableError extends ColoError {
  constructor(
    readonly subject: string,
    options?: { cause?: unknown },
  ) {
    super(`no agent answers on ${subject}`, 'transient', options);
  }
}

export class PeerTimeoutError extends ColoError {
  constructor(
    readonly subject: string,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`no reply on ${subject} within ${timeoutMs} ms`, 'transient', options);
  }
}

/** NATS itself cannot be reached: not the same thing as a dead peer. */
export class NatsUnavailableError extends ColoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'transient', options);
  }
}

/** Lost a KV compare-and-set: someone else wrote first. */
export class LockConflictError extends ColoError {
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`compare-and-set on ${key} lost to another writer`, 'local', options);
  }
}

/** A remote agent answered a request with an error. */
export class RemoteError extends ColoError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message, 'local');
  }
}

/** Work cancelled because its state was left (AbortSignal). */
export class AbortedError extends ColoError {
  constructor(what: string) {
    super(`${what} aborted`, 'local');
  }
}

export function isColoError(e: unknown): e is ColoError {
  return e instanceof ColoError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const RECOVERIES: readonly string[] = ['transient', 'local', 'fatal'] satisfies readonly Recovery[];

/** Any error class, abstract or not, whatever its constructor takes. */
export type ErrorClass<E extends Error = Error> = abstract new (...args: never[]) => E;

function fieldOf(e: unknown, key: 'name' | 'message' | 'recovery'): unknown {
  return typeof e === 'object' && e !== null ? (e as Record<string, unknown>)[key] : undefined;
}

/**
 * Whether `e` is a `kind` (e.g. `isErrorKind(e, LockConflictError)`): by
 * `instanceof`, or else by an object whose `name` is the class name. The
 * fallback is for errors that cross a boundary and lose their class: a
 * rejection built elsewhere (another copy of this module, the machines' fake
 * actors in the unit tests). A bare subclass does not match by name.
 */
export function isErrorKind(e: unknown, kind: ErrorClass): boolean {
  return e instanceof kind || fieldOf(e, 'name') === kind.name;
}

/**
 * The error's `recovery` (see `Recovery`); read from a tree error, or from an
 * object carrying a valid one (same boundary as `isErrorKind`). Undefined for
 * anything else: nobody said whether a retry may help.
 */
export function recoveryOf(e: unknown): Recovery | undefined {
  if (e instanceof ColoError) return e.recovery;
  const r = fieldOf(e, 'recovery');
  return typeof r === 'string' && RECOVERIES.includes(r) ? (r as Recovery) : undefined;
}

/** What a reason or a log says about a failure: the error's message, else the value as a string. */
export function describeError(e: unknown): string {
  const m = fieldOf(e, 'message');
  return typeof m === 'string' ? m : String(e);
}
