/**
 * Mutual TLS on the data channels (NBD exports, the COLO stream's relay), as
 * data. One CA per pair; each node's certificate names the node (CN) and its
 * replication address (SAN), and serves as both TLS server and client. Pure.
 */
import { dirname, join } from 'node:path';
import type { Config } from '../config/index.js';

/** QOM ids of the objects every qemu of ours carries when TLS is on (both roles: a survivor serves and a secondary is relaunched). */
export const TLS_IDS = { server: 'colo-tls-server', client: 'colo-tls-client', authz: 'colo-tls-authz' } as const;

/** The organisation in every certificate `colo-ft certs init` issues; the NBD authz matches it with the peer's name. */
export const PKI_ORG = 'colo-ft';

export interface PkiFiles {
  caCert: string;
  cert: string;
  key: string;
}

export interface TlsPlan {
  /** The pair's files this node uses. */
  pki: PkiFiles;
  /** qemu's credential directory for this VM (ca-cert.pem, server-*.pem, client-*.pem), filled from `pki` at launch. */
  credsDir: string;
  /** The peer's certificate name as qemu's authz sees it: only the peer may open our NBD export. */
  peerIdentity: string;
  peer: string;
}

export function pkiDirOf(config: Config): string {
  return config.replication.pkiDir ?? `/etc/colo-ft/pki/${config.pair}`;
}

export function pkiFilesOf(pkiDir: string, node: string): PkiFiles {
  return { caCert: join(pkiDir, 'ca-cert.pem'), cert: join(pkiDir, `${node}-cert.pem`), key: join(pkiDir, `${node}-key.pem`) };
}

/** The CA's own key: only `certs init` needs it; no node does. */
export function caKeyOf(pkiDir: string): string {
  return join(pkiDir, 'ca-key.pem');
}

/** The distinguished name of a node's certificate, in the order qemu's authz prints it (`O=colo-ft,CN=alpha`). */
export function nodeIdentity(node: string): string {
  return `O=${PKI_ORG},CN=${node}`;
}

export function tlsPlanOf(config: Config, node: string, peer: string, runDir: string): TlsPlan | null {
  if (config.replication.tls === 'off') return null;
  return { pki: pkiFilesOf(pkiDirOf(config), node), credsDir: join(runDir, 'tls'), peerIdentity: nodeIdentity(peer), peer };
}

/** The pair's Diffie-Hellman group file (RFC 7919 ffdhe2048); without it every qemu start would generate one, 0.1-2 s. */
export function dhParamsOf(pkiDir: string): string {
  return join(pkiDir, 'dh-params.pem');
}

/** The file names qemu's tls-creds-x509 looks for in its directory, and which pair file each one is (`optional`: copied when present). */
export function credsDirFiles(t: TlsPlan): Array<{ name: string; from: string; secret: boolean; optional?: boolean }> {
  return [
    { name: 'dh-params.pem', from: dhParamsOf(dirname(t.pki.caCert)), secret: false, optional: true },
    { name: 'ca-cert.pem', from: t.pki.caCert, secret: false },
    { name: 'server-cert.pem', from: t.pki.cert, secret: false },
    { name: 'server-key.pem', from: t.pki.key, secret: true },
    { name: 'client-cert.pem', from: t.pki.cert, secret: false },
    { name: 'client-key.pem', from: t.pki.key, secret: true },
  ];
}

const opt = (v: string): string => v.replaceAll(',', ',,');

/** `-object` arguments: server creds that insist on a client certificate, client creds, and the authz naming the peer. */
export function tlsObjectArgs(t: TlsPlan): string[] {
  return [
    '-object',
    `tls-creds-x509,id=${TLS_IDS.server},endpoint=server,verify-peer=on,dir=${opt(t.credsDir)}`,
    '-object',
    `tls-creds-x509,id=${TLS_IDS.client},endpoint=client,dir=${opt(t.credsDir)}`,
    '-object',
    `authz-simple,id=${TLS_IDS.authz},identity=${opt(t.peerIdentity)}`,
  ];
}

/** nbd-server-start's TLS arguments (none when TLS is off). */
export function nbdServerTlsArgs(t: TlsPlan | null): Record<string, string> {
  return t ? { 'tls-creds': TLS_IDS.server, 'tls-authz': TLS_IDS.authz } : {};
}
