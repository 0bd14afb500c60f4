import { WarnLimiter } from '../log-limit.js';
import { readFileSync } from 'node:fs';
import {
  connect,
  credsAuthenticator,
  ErrorCode,
  type ConnectionOptions,
  type NatsConnection,
  type NatsError,
  type Subscription,
} from 'nats';
import type { z } from 'zod';
import {
  ColoError,
  NatsUnavailableError,
  PeerTimeoutError,
  PeerUnreachableError,
  ProtocolError,
  RemoteError,
  errorMessage,
} from '../errors.js';
import type { Logger } from '../log.js';
import { decodeWith, encodeJson, MAX_REQUEST_BYTES } from './codec.js';
import { openKv, type KvStore } from './kv.js';
import { replyEnvelopeSchema, type ReplyEnvelope } from './messages.js';

export type ConnectionState = 'connected' | 'reconnecting' | 'disconnected' | 'closed';
export type Unsubscribe = () => void;

export interface BusOptions {
  servers: readonly string[];
  name: string;
  credsFile?: string;
  user?: string;
  password?: string;
  token?: string;
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How long to try the first connection before giving up with NatsUnavailableError. */
  connectTimeoutMs?: number;
  /** Keep retrying the first connection in the background instead of failing (daemons). */
  waitOnFirstConnect?: boolean;
  pingIntervalMs?: number;
  log: Logger;
}

export interface RequestOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface Bus {
  request<T>(subject: string, payload: unknown, replySchema: z.ZodType<T>, options: RequestOptions): Promise<T>;
  serve<Req>(subject: string, requestSchema: z.ZodType<Req>, handler: (request: Req) => Promise<unknown>): Unsubscribe;
  publish(subject: string, message: unknown): void;
  subscribe<T>(subject: string, schema: z.ZodType<T>, onMessage: (message: T, subject: string) => void): Unsubscribe;
  /**
   * Open a KV bucket, creating it when missing; `create: false` only opens one
   * that exists (a read-only login may not create it: asking would be a
   * permission violation at the server) and fails with NatsUnavailableError otherwise.
   */
  kv(bucket: string, options?: { replicas?: number; create?: boolean }): Promise<KvStore>;
  readonly state: ConnectionState;
  /** A NATS round trip (the watchdog's proof that the control plane answers). */
  rtt(): Promise<number>;
  onStateChange(listener: (state: ConnectionState) => void): Unsubscribe;
  close(): Promise<void>;
}

function connectionOptions(o: BusOptions): ConnectionOptions {
  const opts: ConnectionOptions = {
    servers: [...o.servers],
    name: o.name,
    // Daemon settings: never give up, notice a dead server within seconds.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: o.pingIntervalMs ?? 2_000,
    maxPingOut: 2,
    timeout: o.connectTimeoutMs ?? 5_000,
    waitOnFirstConnect: o.waitOnFirstConnect ?? false,
  };
  if (o.credsFile) opts.authenticator = credsAuthenticator(readFileSync(o.credsFile));
  if (o.user) opts.user = o.user;
  if (o.password) opts.pass = o.password;
  if (o.token) opts.token = o.token;
  if (o.tls) opts.tls = { caFile: o.tls.caFile, certFile: o.tls.certFile, keyFile: o.tls.keyFile };
  return opts;
}

function asNatsError(e: unknown): NatsError | undefined {
  return e && typeof e === 'object' && 'code' in e ? (e as NatsError) : undefined;
}

export async function connectBus(options: BusOptions): Promise<Bus> {
  const log = options.log;
  let nc: NatsConnection;
  try {
    nc = await connect(connectionOptions(options));
  } catch (e) {
    throw new NatsUnavailableError(`cannot reach NATS at ${options.servers.join(', ')}: ${errorMessage(e)}`, { cause: e });
  }
  return new NatsBus(nc, log);
}

class NatsBus implements Bus {
  state: ConnectionState = 'connected';
  private readonly listeners = new Set<(s: ConnectionState) => void>();
  private readonly subs = new Set<Subscription>();
  /** Bad input from the network is logged at a bounded rate: a burst of garbage must not flood the journal. */
  private readonly badInput: WarnLimiter;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    this.badInput = new WarnLimiter(log);
    void this.followStatus();
    void nc.closed().then(() => this.setState('closed'));
  }

  private async followStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect') this.setState('disconnected');
      else if (s.type === 'reconnecting') this.setState('reconnecting');
      else if (s.type === 'reconnect') this.setState('connected');
    }
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.log.info({ state }, 'nats connection');
    for (const l of this.listeners) l(state);
  }

  onStateChange(listener: (state: ConnectionState) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async request<T>(subject: string, payload: unknown, replySchema: z.ZodType<T>, o: RequestOptions): Promise<T> {
    if (o.signal?.aborted) throw new ColoError(`request on ${subject} aborted`, 'local');
    let reply;
    try {
      const pending = this.nc.request(subject, encodeJson(payload), { timeout: o.timeoutMs });
      reply = o.signal ? await raceAbort(pending, o.signal, subject) : await pending;
    } catch (e) {
      throw translateRequestError(e, subject, o.timeoutMs, this.state);
    }
    // A reply answers our own request (a node status for every VM it runs can be large): no size limit.
    const envelope: ReplyEnvelope = decodeWith(replyEnvelopeSchema, reply.data, subject, Infinity);
    if (!envelope.ok) throw new RemoteError(envelope.error.code, envelope.error.message);
    const parsed = replySchema.safeParse(envelope.data);
    if (!parsed.success) {
      throw new ProtocolError(subject, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    }
    return parsed.data;
  }

  serve<Req>(subject: string, requestSchema: z.ZodType<Req>, handler: (request: Req) => Promise<unknown>): Unsubscribe {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return void this.log.warn({ subject, err: errorMessage(err) }, 'subscription error');
        const respond = (body: ReplyEnvelope) => {
          if (msg.reply) msg.respond(encodeJson(body));
        };
        let request: Req;
        try {
          request = decodeWith(requestSchema, msg.data, subject, MAX_REQUEST_BYTES);
        } catch (e) {
          this.badInput.warn(`request:${subject}`, { subject, reason: errorMessage(e) }, 'rejected bad request');
          return respond({ ok: false, error: { code: 'BAD_REQUEST', message: errorMessage(e) } });
        }
        handler(request).then(
          (data) => respond({ ok: true, data }),
          (e: unknown) => {
            this.badInput.warn(`failed:${subject}`, { subject, reason: errorMessage(e) }, 'request failed');
            const code = e instanceof RemoteError ? e.code : e instanceof ColoError ? e.name : 'INTERNAL';
            respond({ ok: false, error: { code, message: errorMessage(e) } });
          },
        );
      },
    });
    return this.track(sub);
  }

  publish(subject: string, message: unknown): void {
    if (this.nc.isClosed()) return;
    this.nc.publish(subject, encodeJson(message));
  }

  subscribe<T>(subject: string, schema: z.ZodType<T>, onMessage: (message: T, subject: string) => void): Unsubscribe {
    const sub = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return void this.log.warn({ subject, err: errorMessage(err) }, 'subscription error');
        let message: T;
        try {
          message = decodeWith(schema, msg.data, msg.subject);
        } catch (e) {
          return void this.badInput.warn(`message:${subject}`, { subject: msg.subject, reason: errorMessage(e) }, 'dropped bad message');
        }
        onMessage(message, msg.subject);
      },
    });
    return this.track(sub);
  }

  rtt(): Promise<number> {
    return this.nc.rtt();
  }

  kv(bucket: string, options?: { replicas?: number; create?: boolean }): Promise<KvStore> {
    return openKv(this.nc, bucket, options?.replicas ?? 1, options?.create ?? true);
  }

  private track(sub: Subscription): Unsubscribe {
    this.subs.add(sub);
    return () => {
      this.subs.delete(sub);
      if (!sub.isClosed()) sub.unsubscribe();
    };
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close().catch(() => undefined);
    }
  }
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal, subject: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ColoError(`request on ${subject} aborted`, 'local'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function translateRequestError(e: unknown, subject: string, timeoutMs: number, state: ConnectionState): Error {
  if (e instanceof ColoError) return e;
  const ne = asNatsError(e);
  if (state !== 'connected') return new NatsUnavailableError(`NATS is ${state}: cannot send on ${subject}`, { cause: e });
  if (ne?.code === ErrorCode.NoResponders) return new PeerUnreachableError(subject, { cause: e });
  if (ne?.code === ErrorCode.Timeout) return new PeerTimeoutError(subject, timeoutMs, { cause: e });
  return new NatsUnavailableError(`request on ${subject} failed: ${errorMessage(e)}`, { cause: e });
}
