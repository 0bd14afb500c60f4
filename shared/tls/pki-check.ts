/** What `config check` and an agent at start say about a node's certificate: every problem, in words. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { errorMessage } from '../errors.js';
import { nodeIdentity, type PkiFiles } from './tls-plan.js';

export interface PkiNodeCheck {
  node: string;
  /** False: none of its files are here (expected on another host). */
  present: boolean;
  problems: string[];
  /** When its certificate runs out (ms since the epoch), if it could be read. */
  expiresAtMs: number | null;
}

function read(path: string, what: string, problems: string[]): Buffer | null {
  if (!existsSync(path)) {
    problems.push(`${what} ${path} does not exist`);
    return null;
  }
  try {
    return readFileSync(path);
  } catch (e) {
    problems.push(`cannot read ${what} ${path}: ${errorMessage(e)}`);
    return null;
  }
}

export function checkNodePki(files: PkiFiles, node: { name: string; address: string }, nowMs = Date.now()): PkiNodeCheck {
  const present = existsSync(files.cert) || existsSync(files.key);
  const problems: string[] = [];
  const result = (expiresAtMs: number | null): PkiNodeCheck => ({ node: node.name, present, problems, expiresAtMs });
  if (!present) return result(null);
  const caPem = read(files.caCert, 'the CA certificate', problems);
  const certPem = read(files.cert, `${node.name}'s certificate`, problems);
  const keyPem = read(files.key, `${node.name}'s key`, problems);
  if (!caPem || !certPem || !keyPem) return result(null);
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(caPem);
    cert = new X509Certificate(certPem);
  } catch (e) {
    problems.push(`not a PEM certificate: ${errorMessage(e)}`);
    return result(null);
  }
  const expiresAtMs = Date.parse(cert.validTo);
  if (!(cert.checkIssued(ca) && cert.verify(ca.publicKey))) problems.push(`${files.cert} is not issued by the pair's CA ${files.caCert}`);
  const dn = cert.subject.split('\n').join(',');
  if (dn !== nodeIdentity(node.name)) problems.push(`${files.cert} names ${dn}, not ${nodeIdentity(node.name)} (the peer's NBD authz expects that name)`);
  if (cert.checkHost(node.name) === undefined) problems.push(`${files.cert} does not carry ${node.name} in its subjectAltName`);
  const addressOk = isIP(node.address) ? cert.checkIP(node.address) !== undefined : cert.checkHost(node.address) !== undefined;
  if (!addressOk) problems.push(`${files.cert} does not carry the replication address ${node.address} in its subjectAltName`);
  if (expiresAtMs <= nowMs) problems.push(`${files.cert} expired on ${cert.validTo}`);
  if (Date.parse(cert.validFrom) > nowMs) problems.push(`${files.cert} is not valid before ${cert.validFrom}`);
  if (Date.parse(ca.validTo) <= nowMs) problems.push(`the CA certificate ${files.caCert} expired on ${ca.validTo}`);
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) problems.push(`${files.key} is not the key of ${files.cert}`);
  } catch (e) {
    problems.push(`${files.key} is not a private key: ${errorMessage(e)}`);
  }
  if ((statSync(files.key).mode & 0o077) !== 0) problems.push(`${files.key} can be read by others than its owner (chmod 600)`);
  return result(expiresAtMs);
}
