import { createConnection, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { AbortedError, QmpConnectionError } from '../errors.js';
import type { Logger } from '../log.js';
import { sleep } from '../sleep.js';

const CONNECT_RETRY_MS = 20;
const RETRYABLE_CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

/**
 * Connects to a unix socket, retrying while it is missing or refuses: qemu creates
 * its monitor socket a little after it starts.
 */
export async function dialUnixSocket(
  path: string,
  connectTimeoutMs: number,
  log: Logger,
  signal?: AbortSignal,
): Promise<Socket> {
  const deadline = performance.now() + connectTimeoutMs;
  for (;;) {
    try {
      return await dialOnce(path, signal);
    } catch (err) {
      if (err instanceof AbortedError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === undefined || !RETRYABLE_CONNECT_CODES.has(code)) {
        throw new QmpConnectionError(`cannot connect to QMP socket ${path}`, { cause: err });
      }
      if (performance.now() + CONNECT_RETRY_MS > deadline) {
        throw new QmpConnectionError(`QMP socket ${path} not accepting within ${connectTimeoutMs} ms`, { cause: err });
      }
      log.debug({ code }, 'qmp connect retry');
    }
    await sleep(CONNECT_RETRY_MS, signal, 'QMP connect');
  }
}

function dialOnce(path: string, signal?: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError('QMP connect'));
    const socket = createConnection({ path });
    const onAbort = (): void => {
      socket.destroy();
      reject(new AbortedError('QMP connect'));
    };
    // Stays attached after connect so no socket error can ever go unhandled.
    socket.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
