import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tryItLines } from '../../../../cli/commands/demo.js';
import { commandingUser } from '../../../../cli/connect.js';
import { localConfigPaths, writeLocalPairConfigs } from '../../../../cli/demo/local-configs.js';
import { newLocalNatsAuth } from '../../../../cli/demo/local-nats-auth.js';
import { localPairConfig, type LocalPairSpec } from '../../../../cli/demo/pair-config.js';
import { parseConfigText } from '../../../../shared/config/index.js';
import { accountName, pairPermissions, pairUsers, renderPairAccount } from '../../../../shared/nats/index.js';

const spec = (dir: string): LocalPairSpec => ({ pair: 'demo', dir, natsUrl: 'nats://127.0.0.1:4222', vms: [{ name: 'vm1', migrationPort: 9100, nbdPort: 9101, disks: 1 }] });

describe("a local pair's NATS logins", () => {
  it('are the production users of the pair, each with its own new random password', () => {
    const a = newLocalNatsAuth('demo', ['alpha', 'beta']);
    const b = newLocalNatsAuth('demo', ['alpha', 'beta']);
    expect(a.users.map((u) => u.user)).toEqual(pairUsers('demo', ['alpha', 'beta']).map((u) => u.user));
    expect(a.agent('alpha').user).toBe('demo-alpha');
    expect(a.agent('beta').user).toBe('demo-beta');
    expect(a.operator.user).toBe('demo-operator');
    expect(a.dashboard.user).toBe('demo-dashboard');
    const passwords = [...a.users, ...b.users].map((u) => u.password);
    expect(new Set(passwords).size).toBe(passwords.length);
    for (const p of passwords) expect(p).toMatch(/^[\w-]{32}$/);
    expect(() => a.agent('gamma')).toThrow(/no NATS user for node gamma/);
  });

  it("render the server config as production's account: the same permissions text, no anonymous user", () => {
    const auth = newLocalNatsAuth('demo', ['alpha', 'beta'], () => 'pw');
    expect(auth.serverConfig).toContain(`accounts {\n${renderPairAccount('demo', auth.users)}\n}`);
    expect(auth.serverConfig).toContain(`${accountName('demo')} {`);
    expect(auth.serverConfig).not.toMatch(/no_auth_user|authorization/);
    // The read-only user may not publish a drill, command or restore (the account text comes from pairPermissions).
    const dash = pairPermissions('demo', { role: 'dashboard' });
    expect(dash.publish.allow.some((s) => /drill|command|restore|\.>$/.test(s) && s.startsWith('colo.'))).toBe(false);
  });

  it('go into one config file each: operator in pair.yaml, read-only in dashboard.yaml, each agent in NODE.yaml, mode 0600', () => {
    const dir = mkdtempSync(join(tmpdir(), 'colo-ft-local-configs-'));
    try {
      const auth = newLocalNatsAuth('demo', ['alpha', 'beta']);
      const paths = writeLocalPairConfigs(spec(dir), auth);
      expect(paths).toEqual(localConfigPaths(dir));
      expect(paths).toEqual({ operator: join(dir, 'pair.yaml'), dashboard: join(dir, 'dashboard.yaml'), nodes: { alpha: join(dir, 'alpha.yaml'), beta: join(dir, 'beta.yaml') } });
      const login = (path: string) => {
        const c = parseConfigText(readFileSync(path, 'utf8'), path);
        return { user: c.nats.user, password: c.nats.password };
      };
      expect(login(paths.operator)).toEqual(auth.operator);
      expect(login(paths.dashboard)).toEqual(auth.dashboard);
      expect(login(paths.nodes.alpha!)).toEqual(auth.agent('alpha'));
      expect(login(paths.nodes.beta!)).toEqual(auth.agent('beta'));
      for (const p of [paths.operator, paths.dashboard, paths.nodes.alpha!, paths.nodes.beta!]) expect(statSync(p).mode & 0o777, p).toBe(0o600);
      // Otherwise the files are the same pair.
      const strip = (path: string) => readFileSync(path, 'utf8').replace(/\n {2}user: .*\n {2}password: .*\n/, '\n');
      expect(strip(paths.dashboard)).toBe(strip(paths.operator));
      expect(strip(paths.nodes.alpha!)).toBe(strip(paths.operator));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without a login the config has none (a raw local nats-server)', () => {
    expect(parseConfigText(localPairConfig(spec('/tmp/x'))).nats).not.toHaveProperty('user');
  });
});

describe('serve takes no login that can command an agent', () => {
  const configAs = (user?: string) => parseConfigText(localPairConfig(spec('/tmp/x'), user ? { user, password: 'pw' } : undefined));
  it("names the operator's and the agents' logins, and passes the read-only one (and a config without a user)", () => {
    expect(commandingUser(configAs('demo-operator'))).toBe('demo-operator');
    expect(commandingUser(configAs('demo-alpha'))).toBe('demo-alpha');
    expect(commandingUser(configAs('demo-beta'))).toBe('demo-beta');
    expect(commandingUser(configAs('demo-dashboard'))).toBeNull();
    expect(commandingUser(configAs('someone-else'))).toBeNull();
    expect(commandingUser(configAs())).toBeNull();
  });
});

describe("the demo's try-it lines", () => {
  it('point status, drill and restore at pair.yaml, serve and status --watch at dashboard.yaml, and say what each file is', () => {
    const lines = tryItLines(localConfigPaths('/d'));
    expect(lines).toContain('  colo-ft status --config /d/pair.yaml');
    expect(lines).toContain('  colo-ft status --watch --config /d/dashboard.yaml');
    expect(lines).toContain('  colo-ft drill --config /d/pair.yaml --vm vm1 --fail primary');
    expect(lines).toContain('  colo-ft restore --config /d/pair.yaml --vm vm1');
    expect(lines).toContain('  colo-ft serve --config /d/dashboard.yaml');
    expect(lines.join('\n')).toMatch(/\/d\/alpha\.yaml and \/d\/beta\.yaml each agent's own/);
    expect(lines.join('\n')).not.toMatch(/without credentials/);
  });
});
