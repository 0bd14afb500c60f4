/**
 * Certificates of a colo-ft NATS cluster, issued with Debian's openssl by
 * deploy/nats/gen-nats-config.mjs. Two CAs, on purpose:
 * - the route CA signs only the servers' route certificates: the cluster port
 *   admits a route by its certificate alone (no password in any route URL), so
 *   a client's certificate must never pass there;
 * - the client CA signs each server's client-port certificate and one client
 *   certificate per NATS user; the client port verifies it (and the user still
 *   logs in with its password, now inside TLS).
 * Existing files are kept, so re-running the generator changes no certificate.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EC, openssl, signLeaf, type LeafSpec } from './openssl.js';

const ORG = 'colo-ft NATS';

export interface NatsPkiServer {
  name: string;
  host: string;
}

/** Where each file of the NATS PKI sits inside the generator's output directory. */
export const natsPkiFiles = {
  routeCa: 'tls/route-ca.pem',
  routeCaKey: 'tls/route-ca-key.pem',
  clientCa: 'tls/client-ca.pem',
  clientCaKey: 'tls/client-ca-key.pem',
  /** One directory per server, to be copied whole to that server's host. */
  serverDir: (server: string) => `tls/servers/${server}`,
  /** One directory per NATS user, to be copied whole to the host that uses it. */
  userDir: (pair: string, user: string) => `tls/clients/${pair}/${user}`,
};

/** File names inside a server's directory (what the server config names). */
export const serverTlsNames = { clientCa: 'client-ca.pem', routeCa: 'route-ca.pem', cert: 'client-port-cert.pem', key: 'client-port-key.pem', routeCert: 'route-cert.pem', routeKey: 'route-key.pem' };
/** File names inside a user's directory (what the user's `nats.tls` names). */
export const userTlsNames = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' };

function ensureCa(ca: { caCert: string; caKey: string }, cn: string): void {
  if (existsSync(ca.caCert) && existsSync(ca.caKey)) return;
  mkdirSync(dirname(ca.caCert), { recursive: true, mode: 0o700 });
  openssl(['req', '-x509', ...EC, '-keyout', ca.caKey, '-out', ca.caCert, '-days', '3650', '-subj', `/O=${ORG}/CN=${cn}`]);
  chmodSync(ca.caKey, 0o600);
}

interface Leaf {
  cert: string;
  key: string;
  cn: string;
  hosts: string[];
  usage: LeafSpec['usage'];
}

function ensureLeaf(ca: { caCert: string; caKey: string }, leaf: Leaf, days: number): void {
  if (existsSync(leaf.cert) && existsSync(leaf.key)) return;
  mkdirSync(dirname(leaf.cert), { recursive: true, mode: 0o700 });
  // nats.js checks a loopback server under the name localhost.
  const san = leaf.hosts.flatMap((h) => (h === '127.0.0.1' || h === '::1' ? [h, 'localhost'] : [h]));
  signLeaf(ca, { cert: leaf.cert, key: leaf.key, subject: `/O=${ORG}/CN=${leaf.cn}`, san, usage: leaf.usage, days });
}

/** Issue (or keep) every certificate of the cluster under `out`; keys 0600. */
export function issueNatsPki(o: { out: string; servers: readonly NatsPkiServer[]; users: ReadonlyArray<{ pair: string; user: string }>; days?: number }): void {
  const p = (rel: string) => join(o.out, rel);
  const days = o.days ?? 825;
  const routeCa = { caCert: p(natsPkiFiles.routeCa), caKey: p(natsPkiFiles.routeCaKey) };
  const clientCa = { caCert: p(natsPkiFiles.clientCa), caKey: p(natsPkiFiles.clientCaKey) };
  ensureCa(routeCa, 'colo-ft NATS route CA');
  ensureCa(clientCa, 'colo-ft NATS client CA');
  for (const s of o.servers) {
    const d = (name: string) => join(p(natsPkiFiles.serverDir(s.name)), name);
    const n = serverTlsNames;
    ensureLeaf(clientCa, { cert: d(n.cert), key: d(n.key), cn: s.name, hosts: [s.host], usage: 'serverAuth' }, days);
    ensureLeaf(routeCa, { cert: d(n.routeCert), key: d(n.routeKey), cn: s.name, hosts: [s.host], usage: 'serverAuth,clientAuth' }, days);
    copyFileSync(clientCa.caCert, d(n.clientCa));
    copyFileSync(routeCa.caCert, d(n.routeCa));
  }
  for (const u of o.users) {
    const d = (name: string) => join(p(natsPkiFiles.userDir(u.pair, u.user)), name);
    ensureLeaf(clientCa, { cert: d(userTlsNames.cert), key: d(userTlsNames.key), cn: u.user, hosts: [], usage: 'clientAuth' }, days);
    copyFileSync(clientCa.caCert, d(userTlsNames.ca));
  }
}
