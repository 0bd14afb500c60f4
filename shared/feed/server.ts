import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Bus, FeedVmStatus } from '../nats/index.js';
import { Feed } from './feed.js';
import { formatUrl, isLoopback, isLoopbackHostHeader, loadDashboard, parseListen } from './listen.js';
import { startFeedSource } from './source.js';

export interface FeedServerOptions {
  bus: Bus;
  /** The pair's config: its pair's status bucket is read at once and its nodes are shown before they report. */
  config?: Config;
  /** `PORT`, `HOST:PORT` or `[V6]:PORT`; default `127.0.0.1:0` (loopback, a free port). */
  listen?: string;
  log: Logger;
  /** A node silent this long counts as unreachable (default 7000). */
  staleAfterMs?: number;
  /** Every VM is re-sent this often so ages grow and silence shows (default 5000). */
  tickMs?: number;
  /** Another dashboard folder (tests); default: the one shipped in the package. */
  dashboardDir?: string;
}

export interface FeedServer {
  /** `http://HOST:PORT/`: the dashboard; `/events` (SSE), `/metrics`, `/api/vms` beside it. */
  url: string;
  host: string;
  port: number;
  feed: Feed;
  /** Resolves once the config pair's status bucket was read. */
  ready: Promise<void>;
  close(): Promise<void>;
}

interface SseClient {
  res: ServerResponse;
  pair: string | null;
  vm: string | null;
}

/** Beyond this much unsent data a client is too slow: it is dropped (EventSource reconnects and gets the whole state again). */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const KEEPALIVE_MS = 15_000;

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
  'Referrer-Policy': 'no-referrer',
};

/**
 * The dashboard feed over HTTP (node:http, no framework): SSE on `/events`
 * (one `data:` line per VM status, the `status --json` names plus extras),
 * Prometheus text on `/metrics`, the static dashboard on `/`. Binds loopback
 * unless told otherwise; on loopback it refuses a Host header that is not a
 * loopback name (DNS rebinding). The caller owns and closes the bus.
 */
export async function startFeedServer(o: FeedServerOptions): Promise<FeedServer> {
  const addr = parseListen(o.listen ?? '127.0.0.1:0');
  const loopbackOnly = isLoopback(addr.host);
  if (!loopbackOnly) o.log.warn({ host: addr.host }, 'dashboard bound beyond loopback: anyone who reaches it sees every pair');
  const files = loadDashboard(o.dashboardDir);
  const nodesByPair = new Map<string, string[]>();
  if (o.config) nodesByPair.set(o.config.pair, o.config.nodes.map((n) => n.name));
  const feed = new Feed({ staleAfterMs: o.staleAfterMs, nodesOf: (pair) => nodesByPair.get(pair) });
  const source = startFeedSource({ bus: o.bus, feed, pairs: o.config ? [o.config.pair] : [], kvReplicas: o.config?.nats.kvReplicas, log: o.log });
  const clients = new Set<SseClient>();

  const send = (c: SseClient, view: FeedVmStatus, json: string): void => {
    if ((c.pair && c.pair !== view.pair) || (c.vm && c.vm !== view.vm)) return;
    if (c.res.writableLength > MAX_BUFFERED_BYTES) {
      clients.delete(c);
      c.res.destroy();
      return;
    }
    c.res.write(`data: ${json}\n\n`);
  };
  const offChange = feed.onChange((view) => {
    if (clients.size === 0) return;
    const json = JSON.stringify(view);
    for (const c of clients) send(c, view, json);
  });
  const tick = setInterval(() => feed.tick(), o.tickMs ?? 5_000);
  const keepalive = setInterval(() => {
    for (const c of clients) c.res.write(': keepalive\n\n');
  }, KEEPALIVE_MS);

  const openEvents = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    req.socket.setNoDelay(true);
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    const c: SseClient = { res, pair: url.searchParams.get('pair'), vm: url.searchParams.get('vm') };
    for (const v of feed.views()) send(c, v, JSON.stringify(v));
    clients.add(c);
    const drop = () => clients.delete(c);
    req.on('close', drop);
    res.on('error', drop);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (loopbackOnly && !isLoopbackHostHeader(req.headers.host)) {
      res.writeHead(421, { 'Content-Type': 'text/plain' }).end('misdirected request: this dashboard answers loopback names only\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/events') return openEvents(req, res, url);
    if (url.pathname === '/metrics') {
      const body = await feed.metrics.render();
      res.writeHead(200, { 'Content-Type': feed.metrics.contentType }).end(body);
      return;
    }
    if (url.pathname === '/api/vms') {
      res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' }).end(JSON.stringify(feed.views()));
      return;
    }
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`ok ${o.bus.state}\n`);
      return;
    }
    const file = files.get(url.pathname);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': 'no-cache' }).end(req.method === 'HEAD' ? undefined : file.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      o.log.warn({ url: req.url, reason: e instanceof Error ? e.message : String(e) }, 'dashboard request failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = { host: addr.host, port: (server.address() as AddressInfo).port };
  let closed = false;
  return {
    url: formatUrl(bound),
    host: bound.host,
    port: bound.port,
    feed,
    ready: source.ready,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tick);
      clearInterval(keepalive);
      offChange();
      source.stop();
      for (const c of clients) c.res.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
