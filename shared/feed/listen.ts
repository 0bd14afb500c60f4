import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

export interface ListenAddress {
  host: string;
  port: number;
}

/** `PORT`, `HOST:PORT` or `[V6]:PORT`; a bare port binds loopback (anything else must be said explicitly). */
export function parseListen(spec: string): ListenAddress {
  const s = spec.trim();
  const m = /^(\d{1,5})$/.exec(s) ?? /^:(\d{1,5})$/.exec(s);
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s);
  const named = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  const [host, port] = m ? ['127.0.0.1', Number(m[1])] : v6 ? [v6[1]!, Number(v6[2])] : named ? [named[1]!, Number(named[2])] : ['', NaN];
  if (!host || !(port >= 0 && port <= 65535)) {
    throw new ConfigError([{ path: 'listen', message: `expected PORT, HOST:PORT or [IPV6]:PORT, got '${spec}'` }]);
  }
  return { host, port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The Host header names this server as bound to loopback (refuses DNS rebinding onto a loopback-only endpoint). */
export function isLoopbackHostHeader(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const host = hostHeader.startsWith('[') ? hostHeader.slice(1, hostHeader.indexOf(']')) : hostHeader.split(':')[0]!;
  return isLoopback(host);
}

export function formatUrl(a: ListenAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host === '0.0.0.0' ? '127.0.0.1' : a.host;
  return `http://${host}:${a.port}/`;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/**
 * The dashboard's files, shipped in the package under `dashboard/` and read
 * once: found from the compiled module (dist/shared/feed -> ../../../dashboard)
 * or from the source tree (shared/feed -> ../../dashboard).
 */
export function loadDashboard(dir?: string): Map<string, StaticFile> {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = dir ? [dir] : [resolve(here, '../../../dashboard'), resolve(here, '../../dashboard')];
  const found = candidates.find((c) => existsSync(join(c, 'index.html')));
  if (!found) throw new Error(`dashboard files not found (looked in ${candidates.join(', ')})`);
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(found)) {
    const type = TYPES[extname(name)];
    if (type && /^[a-z0-9-]+\.[a-z]+$/.test(name)) files.set(`/${name}`, { body: readFileSync(join(found, name)), type });
  }
  files.set('/', files.get('/index.html')!);
  return files;
}
