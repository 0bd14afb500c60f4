import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { localPkiDir } from '../../cli/demo/pair-config.js';
import { issuePairPki, pkiFilesOf } from '../../shared/tls/index.js';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const run = promisify(execFile);
const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

/** qemu-io as an NBD client of the secondary's export, with the given TLS credentials directory (or none). */
async function nbdWrite(port: number, exportName: string, credsDir: string | null): Promise<{ ok: boolean; output: string }> {
  const image = credsDir
    ? ['--object', `tls-creds-x509,id=c0,dir=${credsDir},endpoint=client`, '--image-opts', `driver=nbd,host=127.0.0.1,port=${port},export=${exportName},tls-creds=c0`]
    : ['-f', 'raw', `nbd://127.0.0.1:${port}/${exportName}`];
  try {
    const r = await run('qemu-io', [...image, '-c', 'write -P 0x66 40M 4k'], { timeout: 10_000 });
    return { ok: true, output: r.stdout + r.stderr };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

/** A qemu client credentials directory holding `node`'s certificate from `pkiDir`. */
async function clientCreds(dir: string, pkiDir: string, node: string): Promise<string> {
  const f = pkiFilesOf(pkiDir, node);
  await run('mkdir', ['-p', dir]);
  await run('cp', [f.caCert, join(dir, 'ca-cert.pem')]);
  await run('cp', [f.cert, join(dir, 'client-cert.pem')]);
  await run('cp', [f.key, join(dir, 'client-key.pem')]);
  return dir;
}

function plainConnection(port: number): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    s.once('connect', () => s.write('QEMU migration stream? no: garbage from a stranger\n'));
    s.once('close', () => resolve('closed'));
    setTimeout(() => (s.destroy(), resolve('open')), 5_000);
  });
}

function tlsConnection(port: number, files: { caCert: string; cert: string; key: string }): Promise<'closed' | 'open'> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(files.caCert), cert: readFileSync(files.cert), key: readFileSync(files.key), rejectUnauthorized: false });
    s.on('error', () => undefined);
    s.once('secureConnect', () => s.write('garbage'));
    s.once('close', () => resolve('closed'));
    setTimeout(() => (s.destroy(), resolve('open')), 5_000);
  });
}

/** A protected pair (TLS on, the default), the secondary's plan, and a stranger's PKI with a certificate named like the primary. */
async function protectedPairAndStranger(name: string) {
  const dir = tmpRun(name);
  const pair = await setupPair(dir, { restore: { auto: false } });
  await pair.startAgent('alpha');
  await pair.startAgent('beta');
  await pair.waitProtected();
  const stranger = join(dir, 'stranger-pki');
  issuePairPki({ dir: stranger, pair: 'stranger', nodes: [{ name: 'alpha', address: '127.0.0.1' }] });
  return { dir, pair, secondary: pair.agent('beta')!.controllers()[0]!.plan(), stranger };
}

/** Checkpoints go on after `what`, and the pair says protected. */
async function stillProtects(pair: TestPair, what: string): Promise<void> {
  const count = (await pair.status()).checkpoints.count;
  await waitFor(async () => (await pair.status()).checkpoints.count > count + 2, { timeoutMs: 10_000, what: `checkpoints after ${what}` });
  expect((await pair.status()).protected).toBe(true);
}

describe('let no one in: the data channels of a protected pair (TLS on, real qemu and nats-server)', () => {
  it("the secondary's NBD export refuses a client without a certificate, with another CA's, and with a pair certificate that is not the primary's; the replica is unchanged", async () => {
    const { dir, pair, secondary: b, stranger } = await protectedPairAndStranger('auth-nbd');
    const exportName = b.disks[0]!.exportName!;
    const replica = pair.imagePath('beta', 'vm1', 0);
    const before = sha(replica);

    const none = await nbdWrite(b.nbd!.port, exportName, null);
    expect(none.ok, none.output).toBe(false);
    expect(none.output).toMatch(/TLS negotiation required/);
    const foreign = await nbdWrite(b.nbd!.port, exportName, await clientCreds(join(dir, 'c-foreign'), stranger, 'alpha'));
    expect(foreign.ok, foreign.output).toBe(false);
    // beta's own certificate is from the pair's CA, but the authz lets only alpha (the primary) in.
    const notPeer = await nbdWrite(b.nbd!.port, exportName, await clientCreds(join(dir, 'c-beta'), localPkiDir(dir), 'beta'));
    expect(notPeer.ok, notPeer.output).toBe(false);
    expect(sha(replica)).toBe(before);
    expect(readFileSync(join(b.runDir, 'qemu.log'), 'utf8')).toMatch(/authz check for O=colo-ft,CN=beta is denied/);

    await stillProtects(pair, 'the refused NBD clients');
  });

  it('the migration port refuses a plain TCP client and one with another CA, and the pair still protects', async () => {
    const { pair, secondary: b, stranger } = await protectedPairAndStranger('auth-migration');

    expect(await plainConnection(b.relay!.listen.port)).toBe('closed');
    expect(await tlsConnection(b.relay!.listen.port, pkiFilesOf(stranger, 'alpha'))).toBe('closed');
    const relayLog = readFileSync(join(b.runDir, 'relay-secondary.log'), 'utf8');
    expect(relayLog).toMatch(/SSL_accept\(\)/);
    expect(relayLog).toMatch(/certificate verify failed|wrong version number|unexpected eof|no certificate/);

    await stillProtects(pair, 'the refused migration clients');
  });
});
