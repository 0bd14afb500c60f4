import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../../../shared/config/index.js';
import { checkNodePki, dhParamsOf, issuePairPki, pkiFilesOf } from '../../../../shared/tls/index.js';
import { edit, expectIssue } from '../config/config-fixture.js';

const root = mkdtempSync(join(tmpdir(), 'colo-ft-pki-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const nodes = [
  { name: 'alpha', address: '10.0.0.1' },
  { name: 'beta', address: 'beta.replication.example' },
];

describe('replication.tls in the config', () => {
  it('is on by default, with the PKI under /etc/colo-ft/pki/PAIR unless pkiDir says otherwise', () => {
    const c = parseConfigText(stringify(edit(() => undefined)), 't.yaml');
    expect(c.replication).toEqual({ tls: 'on' });
  });

  it('takes off as a word or as false', () => {
    for (const tls of ['off', false]) expect(parseConfigText(stringify(edit((d) => (d.replication = { tls }))), 't.yaml').replication.tls).toBe('off');
  });

  it('refuses the tcp channel with TLS on: it has no TLS in colo-ft', () => {
    expectIssue(
      edit((d) => (d.vms[0].migrationChannel = 'tcp')),
      'vms[0].migrationChannel',
      'without TLS',
    );
  });

  it('refuses a relative pkiDir and unknown keys', () => {
    expectIssue(
      edit((d) => (d.replication = { pkiDir: 'pki' })),
      'replication.pkiDir',
      'absolute',
    );
    expectIssue(
      edit((d) => (d.replication = { tls: 'on', cert: '/x' })),
      'replication.cert',
      "unknown key 'cert'",
    );
  });
});

describe('issuePairPki and checkNodePki (real openssl)', () => {
  const dir = join(root, 'pair');
  const issued = issuePairPki({ dir, pair: 'p1', nodes });

  it("writes the CA and each node's certificate and key, keys 0600", () => {
    expect(issued.nodes.map((n) => n.name)).toEqual(['alpha', 'beta']);
    for (const n of issued.nodes) {
      expect(checkNodePki(pkiFilesOf(dir, n.name), nodes.find((x) => x.name === n.name)!)).toMatchObject({ present: true, problems: [] });
    }
    const c = checkNodePki(pkiFilesOf(dir, 'alpha'), nodes[0]!);
    expect(c.expiresAtMs! - Date.now()).toBeGreaterThan(800 * 86_400_000);
    // The well-known DH group qemu's TLS server loads instead of generating one at each start.
    expect(readFileSync(dhParamsOf(dir), 'utf8')).toMatch(/^-----BEGIN DH PARAMETERS-----/);
  });

  it('refuses to replace a CA without force', () => {
    expect(() => issuePairPki({ dir, pair: 'p1', nodes })).toThrow(/already holds a CA/);
  });

  it("names every problem: another node's name or address, a foreign CA, a wrong key, an open key file, expiry", () => {
    const files = pkiFilesOf(dir, 'alpha');
    expect(checkNodePki(pkiFilesOf(dir, 'gamma'), { name: 'gamma', address: '10.0.0.1' }).present).toBe(false);
    expect(checkNodePki({ ...files, cert: pkiFilesOf(dir, 'beta').cert }, nodes[0]!).problems.join('; ')).toMatch(/names O=colo-ft,CN=beta.*not the key/);
    expect(checkNodePki(files, { name: 'alpha', address: '10.9.9.9' }).problems.join()).toContain('replication address 10.9.9.9');
    const other = join(root, 'other');
    issuePairPki({ dir: other, pair: 'p2', nodes });
    expect(checkNodePki({ ...files, caCert: pkiFilesOf(other, 'alpha').caCert }, nodes[0]!).problems.join()).toContain("not issued by the pair's CA");
    expect(checkNodePki(files, nodes[0]!, Date.now() + 900 * 86_400_000).problems.join()).toContain('expired');
    chmodSync(files.key, 0o644);
    expect(checkNodePki(files, nodes[0]!).problems.join()).toContain('chmod 600');
    chmodSync(files.key, 0o600);
    const garbage = join(root, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate');
    expect(checkNodePki({ ...files, cert: garbage }, nodes[0]!).problems.join()).toContain('not a PEM certificate');
    expect(readFileSync(files.key, 'utf8')).toContain('PRIVATE KEY');
  });
});
