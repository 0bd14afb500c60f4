import { connect, type Socket } from 'node:net';
import { randomUUID } from 'node:crypto';

/**
 * A bare NATS protocol client over TCP, for sending what no well-behaved
 * client would: raw bytes that are not JSON, payloads at and over the
 * server's max_payload, bursts without waiting. It speaks only CONNECT, PUB,
 * SUB, PING/PONG and reads MSG/-ERR (no headers, no TLS).
 */
export interface RawNats {
  publish(subject: string, payload: Uint8Array | string): void;
  /** Publish with a reply inbox; resolves with the reply text, or null when none came within timeoutMs. */
  request(subject: string, payload: Uint8Array | string, timeoutMs: number): Promise<string | null>;
  /** A PING/PONG round trip: everything published before it has reached the server. */
  flush(timeoutMs?: number): Promise<void>;
  /** -ERR lines the server sent. */
  readonly errors: string[];
  readonly closed: boolean;
  close(): void;
}

const CRLF = Buffer.from('\r\n');

/** `login`: a user of the pair's account (a local pair's NATS takes no anonymous client). */
export async function rawNats(url: string, login?: { user: string; password: string }): Promise<RawNats> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  const errors: string[] = [];
  // Under _INBOX: the only reply prefix the pair's users may subscribe to.
  const inbox = `_INBOX.raw${randomUUID().replace(/-/g, '')}`;
  const waiting = new Map<string, (text: string) => void>();
  const pongs: Array<() => void> = [];
  let closed = false;
  let buf = Buffer.alloc(0);
  let seq = 0;
  let greeted: (() => void) | null = null;
  const greeting = new Promise<void>((resolve, reject) => {
    greeted = resolve;
    socket.once('error', reject);
  });
  socket.on('close', () => void (closed = true));
  socket.on('error', () => void (closed = true));
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const eol = buf.indexOf(CRLF);
      if (eol < 0) return;
      const line = buf.subarray(0, eol).toString();
      if (line.startsWith('MSG ')) {
        // MSG <subject> <sid> [reply] <bytes>
        const parts = line.split(' ');
        const size = Number(parts[parts.length - 1]);
        if (buf.length < eol + 2 + size + 2) return;
        const payload = buf.subarray(eol + 2, eol + 2 + size).toString();
        buf = buf.subarray(eol + 2 + size + 2);
        waiting.get(parts[1]!)?.(payload);
        continue;
      }
      buf = buf.subarray(eol + 2);
      if (line.startsWith('INFO ')) greeted?.();
      else if (line === 'PING') socket.write('PONG\r\n');
      else if (line === 'PONG') pongs.shift()?.();
      else if (line.startsWith('-ERR')) errors.push(line);
    }
  });
  await greeting;
  socket.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, name: 'raw-garbage', ...(login && { user: login.user, pass: login.password }) })}\r\nSUB ${inbox}.* 1\r\n`);
  const pub = (subject: string, reply: string | null, payload: Uint8Array | string) => {
    const body = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
    socket.write(Buffer.concat([Buffer.from(`PUB ${subject}${reply ? ` ${reply}` : ''} ${body.length}\r\n`), body, CRLF]));
  };
  const client: RawNats = {
    errors,
    get closed() {
      return closed;
    },
    publish: (subject, payload) => pub(subject, null, payload),
    request(subject, payload, timeoutMs) {
      const reply = `${inbox}.${++seq}`;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(reply);
          resolve(null);
        }, timeoutMs);
        waiting.set(reply, (text) => {
          clearTimeout(timer);
          waiting.delete(reply);
          resolve(text);
        });
        pub(subject, reply, payload);
      });
    },
    flush: (timeoutMs = 5_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no PONG')), timeoutMs);
        pongs.push(() => {
          clearTimeout(timer);
          resolve();
        });
        socket.write('PING\r\n');
      }),
    close: () => void socket.destroy(),
  };
  await client.flush();
  return client;
}
