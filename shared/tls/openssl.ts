/**
 * Issue a pair's PKI with Debian's openssl: one CA, and for each node a
 * certificate (CN and SAN: its name and replication address; server and client
 * use) and key. EC P-256: fast handshakes, small keys. Keys are 0600.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import { caKeyOf, dhParamsOf, PKI_ORG, pkiFilesOf } from './tls-plan.js';

export interface PkiNode {
  name: string;
  address: string;
}

export interface IssuedPki {
  dir: string;
  caCert: string;
  caKey: string;
  nodes: Array<{ name: string; cert: string; key: string }>;
}

/** A new EC P-256 key, unencrypted (read by services at start). */
export const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || errorMessage(e)}`);
  }
}

export interface LeafSpec {
  cert: string;
  key: string;
  /** openssl -subj, e.g. /O=colo-ft/CN=alpha */
  subject: string;
  /** Names and addresses for the SAN (IP or DNS by their form); none for a user's client certificate. */
  san: readonly string[];
  usage: 'serverAuth' | 'clientAuth' | 'serverAuth,clientAuth';
  days: number;
}

/** A key (0600) and a certificate signed by the CA; the CA's serial file is removed after. */
export function signLeaf(ca: { caCert: string; caKey: string }, leaf: LeafSpec): void {
  const csr = `${leaf.cert}.csr`;
  const ext = `${leaf.cert}.ext`;
  const san = leaf.san.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`));
  writeFileSync(
    ext,
    [...(san.length ? [`subjectAltName=${san.join(',')}`] : []), `extendedKeyUsage=${leaf.usage}`, 'keyUsage=digitalSignature,keyEncipherment', 'basicConstraints=CA:FALSE', ''].join('\n'),
  );
  try {
    openssl(['req', ...EC, '-keyout', leaf.key, '-out', csr, '-subj', leaf.subject]);
    chmodSync(leaf.key, 0o600);
    openssl(['x509', '-req', '-in', csr, '-CA', ca.caCert, '-CAkey', ca.caKey, '-CAcreateserial', '-out', leaf.cert, '-days', String(leaf.days), '-extfile', ext]);
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
    rmSync(ca.caCert.replace(/\.pem$/, '.srl'), { force: true });
  }
}

export function issuePairPki(o: { dir: string; pair: string; nodes: readonly PkiNode[]; days?: number; force?: boolean }): IssuedPki {
  const caCert = join(o.dir, 'ca-cert.pem');
  const caKey = caKeyOf(o.dir);
  if (existsSync(caCert) && !o.force) {
    throw new ConfigError([{ path: 'replication.pkiDir', message: `${o.dir} already holds a CA; pass --force to issue a new one (a running pair keeps its old certificates until each node's qemu is relaunched by a restore)` }]);
  }
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  chmodSync(o.dir, 0o700);
  const days = String(o.days ?? 825);
  // A well-known group (no generation): qemu's TLS server would otherwise generate DH parameters at every start.
  openssl(['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048', '-out', dhParamsOf(o.dir)]);
  openssl(['req', '-x509', ...EC, '-keyout', caKey, '-out', caCert, '-days', String(Math.max(o.days ?? 0, 3650)), '-subj', `/O=${PKI_ORG}/CN=colo-ft pair ${o.pair} CA`]);
  chmodSync(caKey, 0o600);
  const nodes = o.nodes.map((n) => {
    const files = pkiFilesOf(o.dir, n.name);
    signLeaf({ caCert, caKey }, { cert: files.cert, key: files.key, subject: `/O=${PKI_ORG}/CN=${n.name}`, san: [n.name, n.address], usage: 'serverAuth,clientAuth', days: Number(days) });
    return { name: n.name, cert: files.cert, key: files.key };
  });
  return { dir: o.dir, caCert, caKey, nodes };
}
