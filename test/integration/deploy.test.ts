import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listTree } from '../helpers/fs-tree.js';
import { tmpRun } from '../helpers/tmp-run.js';

const REPO = process.cwd();
const DEPLOY = join(REPO, 'deploy');
const UNITS = ['colo-ft-agent@.service', 'colo-ft-serve@.service', 'colo-ft-vms.slice'];

/** `systemd-analyze verify`: exit status and everything it printed (it prints nothing for a clean unit). */
function verify(files: string[], cwd: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', ...files], { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`systemd-analyze not runnable (scripts/setup.sh installs the systemd package): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** A unit file as section -> key -> every value (keys may repeat). */
function parseUnit(text: string): Record<string, Record<string, string[]>> {
  const out: Record<string, Record<string, string[]>> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1]!;
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    (out[section]![key] ??= []).push(line.slice(eq + 1));
  }
  return out;
}

function one(unit: Record<string, Record<string, string[]>>, section: string, key: string): string | undefined {
  const values = unit[section]?.[key];
  return values?.[values.length - 1];
}

function run(script: string, args: string[]): string {
  return execFileSync('bash', [join(DEPLOY, script), ...args], { encoding: 'utf8', env: { ...process.env, DESTDIR: '' } });
}

describe('systemd units', () => {
  it('the shipped units pass systemd-analyze verify with no message at all', () => {
    const dir = tmpRun('deploy-verify');
    for (const u of UNITS) cpSync(join(DEPLOY, 'systemd', u), join(dir, u));
    const r = verify(UNITS.map((u) => join(dir, u)), dir);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('verify does catch a broken unit (the check is not a no-op)', () => {
    const dir = tmpRun('deploy-verify-bad');
    const text = readFileSync(join(DEPLOY, 'systemd', 'colo-ft-agent@.service'), 'utf8')
      .replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node')
      .replace('Restart=on-failure', 'Restart=sometimes');
    writeFileSync(join(dir, 'colo-ft-agent@.service'), text);
    cpSync(join(DEPLOY, 'systemd', 'colo-ft-vms.slice'), join(dir, 'colo-ft-vms.slice'));
    const r = verify([join(dir, 'colo-ft-agent@.service')], dir);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/not executable/);
    expect(r.output).toMatch(/restart specifier/);
  });

  it('the agent unit: notify + watchdog, restart on failure, HUP reload, its own user, state kept across restarts, VM elsewhere', () => {
    const u = parseUnit(readFileSync(join(DEPLOY, 'systemd', 'colo-ft-agent@.service'), 'utf8'));
    expect(one(u, 'Service', 'Type')).toBe('notify');
    expect(one(u, 'Service', 'NotifyAccess')).toBe('all');
    expect(Number.parseInt(one(u, 'Service', 'WatchdogSec') ?? '', 10)).toBeGreaterThan(0);
    expect(one(u, 'Service', 'Restart')).toBe('on-failure');
    expect(one(u, 'Service', 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(u.Service!.EnvironmentFile).toEqual(['/etc/colo-ft/node.env', '/opt/colo-ft/deploy/agent-node.env']);
    // The node options come from the file the local pairs read too (deploy/agent-node.env).
    expect(one(u, 'Service', 'ExecStart')).toBe('/usr/bin/node $COLO_FT_AGENT_NODE_OPTIONS /opt/colo-ft/dist/cli/main.js agent --config /etc/colo-ft/%i.yaml --node ${COLO_FT_NODE} --on-exit leave-vms');
    expect(one(u, 'Service', 'User')).toBe('colo-ft');
    expect(one(u, 'Service', 'SupplementaryGroups')).toBe('kvm');
    expect(one(u, 'Service', 'RuntimeDirectory')).toBe('colo-ft');
    expect(one(u, 'Service', 'RuntimeDirectoryPreserve')).toBe('yes');
    expect(one(u, 'Service', 'StateDirectory')).toBe('colo-ft');
    // qemu goes to its own scope through the launcher first on PATH, so the agent's
    // cgroup never holds a VM; KillMode=process is not what keeps it alive.
    expect(u.Service!.Environment).toContain('PATH=/opt/colo-ft/libexec:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(one(u, 'Service', 'KillMode')).not.toBe('process');
    // Hardening that would break qemu (JIT, /dev/kvm) is absent.
    expect(one(u, 'Service', 'MemoryDenyWriteExecute')).toBeUndefined();
    expect(one(u, 'Service', 'PrivateDevices')).toBeUndefined();
    expect(one(u, 'Service', 'SystemCallFilter')).toBeUndefined();
    expect(one(u, 'Service', 'NoNewPrivileges')).toBe('yes');
    expect(one(u, 'Service', 'ProtectSystem')).toBe('strict');
  });

  it('the dashboard unit runs serve with the read-only dashboard config, sandboxed', () => {
    const u = parseUnit(readFileSync(join(DEPLOY, 'systemd', 'colo-ft-serve@.service'), 'utf8'));
    expect(one(u, 'Service', 'ExecStart')).toBe('/usr/bin/node /opt/colo-ft/dist/cli/main.js serve --config /etc/colo-ft/%i-dashboard.yaml --listen ${COLO_FT_LISTEN}');
    expect(u.Service!.Environment).toContain('COLO_FT_LISTEN=127.0.0.1:8480');
    expect(one(u, 'Service', 'User')).toBe('colo-ft');
    expect(one(u, 'Service', 'PrivateDevices')).toBe('yes');
    expect(one(u, 'Service', 'Restart')).toBe('on-failure');
  });
});

describe('qemu scope launcher', () => {
  function fixture(dir: string): { launcher: string; fakeQemu: string; fakeRun: string } {
    const launcher = join(DEPLOY, 'libexec', 'qemu-system-x86_64');
    const fakeQemu = join(dir, 'qemu');
    const fakeRun = join(dir, 'systemd-run');
    // Prints its own pid and argv: the pid must be the one the agent spawned.
    writeFileSync(fakeQemu, '#!/bin/sh\necho "qemu pid=$$ args=$*"\n');
    // Like systemd-run --scope: registers the scope, then execs the command after "--".
    writeFileSync(fakeRun, '#!/bin/sh\necho "systemd-run $*"\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n');
    chmodSync(fakeQemu, 0o755);
    chmodSync(fakeRun, 0o755);
    return { launcher, fakeQemu, fakeRun };
  }

  async function spawnOut(cmd: string, args: string[], env: Record<string, string>): Promise<{ pid: number; out: string }> {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    await new Promise((r) => child.on('exit', r));
    return { pid: child.pid!, out };
  }

  it('puts a colo-ft VM into colo-ft-qemu-<pair>.<vm>.<node>.scope in colo-ft-vms.slice, keeping the pid and argv', async () => {
    const dir = tmpRun('deploy-launcher');
    const f = fixture(dir);
    const args = ['-name', 'colo-ft.demo.vm1', '-m', '64'];
    const r = await spawnOut(f.launcher, args, { COLO_FT_QEMU_BINARY: f.fakeQemu, COLO_FT_SYSTEMD_RUN: f.fakeRun, COLO_FT_QEMU_SCOPE: 'on', COLO_FT_NODE: 'alpha' });
    expect(r.out).toContain(
      `systemd-run --scope --quiet --collect --unit=colo-ft-qemu-demo.vm1.alpha --slice=colo-ft-vms.slice --description=colo-ft VM demo.vm1 (node alpha) -- ${f.fakeQemu} -name colo-ft.demo.vm1 -m 64`,
    );
    // exec all the way down: the process the agent spawned is qemu itself.
    expect(r.out).toContain(`qemu pid=${r.pid} args=-name colo-ft.demo.vm1 -m 64`);
  });

  it('runs qemu directly for probes (--version) and where systemd is not PID 1', async () => {
    const dir = tmpRun('deploy-launcher-direct');
    const f = fixture(dir);
    const probe = await spawnOut(f.launcher, ['--version'], { COLO_FT_QEMU_BINARY: f.fakeQemu, COLO_FT_SYSTEMD_RUN: f.fakeRun, COLO_FT_QEMU_SCOPE: 'on' });
    expect(probe.out).toBe(`qemu pid=${probe.pid} args=--version\n`);
    const noSystemd = await spawnOut(f.launcher, ['-name', 'colo-ft.demo.vm1'], { COLO_FT_QEMU_BINARY: f.fakeQemu, COLO_FT_SYSTEMD_RUN: f.fakeRun, COLO_FT_QEMU_SCOPE: 'off' });
    expect(noSystemd.out).toBe(`qemu pid=${noSystemd.pid} args=-name colo-ft.demo.vm1\n`);
  });
});

describe('relay scope launcher', () => {
  it("puts a VM's COLO stream relay into a scope in colo-ft-vms.slice, keeping the pid and argv; any other socat runs directly", async () => {
    const dir = tmpRun('deploy-relay-launcher');
    const fakeSocat = join(dir, 'socat');
    const fakeRun = join(dir, 'systemd-run');
    writeFileSync(fakeSocat, '#!/bin/sh\necho "socat pid=$$ args=$*"\n');
    writeFileSync(fakeRun, '#!/bin/sh\necho "systemd-run $*"\nwhile [ "$1" != "--" ]; do shift; done\nshift\nexec "$@"\n');
    chmodSync(fakeSocat, 0o755);
    chmodSync(fakeRun, 0o755);
    const launcher = join(DEPLOY, 'libexec', 'socat');
    const env = { ...process.env, COLO_FT_SOCAT_BINARY: fakeSocat, COLO_FT_SYSTEMD_RUN: fakeRun, COLO_FT_QEMU_SCOPE: 'on', COLO_FT_NODE: 'beta' };
    const out = (args: string[]) => new Promise<{ pid: number; text: string }>((resolve) => {
      const child = spawn(launcher, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', () => resolve({ pid: child.pid!, text }));
    });
    const relay = ['-d', '-t', '0', 'TCP-LISTEN:9100,bind=10.0.0.2,reuseaddr,nodelay', 'UNIX-CONNECT:/run/colo-ft/beta/vm1/colo-in.sock'];
    const r = await out(relay);
    expect(r.text).toContain(`systemd-run --scope --quiet --collect --slice=colo-ft-vms.slice --description=colo-ft COLO stream relay (UNIX-CONNECT:/run/colo-ft/beta/vm1/colo-in.sock, node beta) -- ${fakeSocat} ${relay.join(' ')}`);
    expect(r.text).toContain(`socat pid=${r.pid} args=${relay.join(' ')}`);
    const other = await out(['-V']);
    expect(other.text).toBe(`socat pid=${other.pid} args=-V\n`);
  });
});

describe('install.sh and uninstall.sh in --root mode', () => {
  const EXPECTED = [
    'etc/colo-ft/example-pair.yaml.example',
    'etc/colo-ft/node.env',
    'etc/polkit-1/rules.d/50-colo-ft.rules',
    ...UNITS.map((u) => `etc/systemd/system/${u}`),
    'opt/colo-ft/dist/cli/main.js',
    'opt/colo-ft/libexec/qemu-system-x86_64',
    'opt/colo-ft/libexec/socat',
    'opt/colo-ft/package.json',
  ];

  it('installs the package, units, launcher and config dir; a second run changes nothing; rendered units verify clean', () => {
    const root = join(tmpRun('deploy-install'), 'root');
    const first = run('install.sh', ['--root', root, '--skip-deps', '--node', 'alpha']);
    const files = listTree(root);
    for (const f of EXPECTED) expect(files).toContain(f);
    expect(files.filter((f) => !f.startsWith('opt/colo-ft/dist/') && !f.startsWith('opt/colo-ft/deploy/'))).toEqual(
      [...EXPECTED.filter((f) => !f.startsWith('opt/colo-ft/dist/')), 'opt/colo-ft/README.md', 'opt/colo-ft/package-lock.json'].sort(),
    );
    expect(first).toContain('--root mode: no user, group or systemctl changes');
    expect(readFileSync(join(root, 'etc/colo-ft/node.env'), 'utf8')).toContain('COLO_FT_NODE=alpha');
    expect(statSync(join(root, 'opt/colo-ft/libexec/qemu-system-x86_64')).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'etc/colo-ft')).mode & 0o777).toBe(0o750);
    expect(readFileSync(join(root, 'opt/colo-ft/dist/cli/main.js'), 'utf8')).toBe(readFileSync(join(REPO, 'dist/cli/main.js'), 'utf8'));

    // Idempotent: nothing rewritten, and an edited node.env is kept.
    writeFileSync(join(root, 'etc/colo-ft/node.env'), 'COLO_FT_NODE=beta\n');
    const second = run('install.sh', ['--root', root, '--skip-deps', '--node', 'alpha']);
    expect(second).not.toMatch(/^install: wrote/m);
    expect(readFileSync(join(root, 'etc/colo-ft/node.env'), 'utf8')).toBe('COLO_FT_NODE=beta\n');

    const unitDir = join(root, 'etc/systemd/system');
    const r = verify(UNITS.map((u) => join(unitDir, u)), unitDir);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('renders another prefix and a root agent into the units, still verifying clean', () => {
    const root = join(tmpRun('deploy-install-prefix'), 'root');
    run('install.sh', ['--root', root, '--skip-deps', '--prefix', '/srv/colo-ft', '--agent-user', 'root']);
    const unitDir = join(root, 'etc/systemd/system');
    const agent = parseUnit(readFileSync(join(unitDir, 'colo-ft-agent@.service'), 'utf8'));
    expect(one(agent, 'Service', 'ExecStart')).toBe('/usr/bin/node $COLO_FT_AGENT_NODE_OPTIONS /srv/colo-ft/dist/cli/main.js agent --config /etc/colo-ft/%i.yaml --node ${COLO_FT_NODE} --on-exit leave-vms');
    expect(agent.Service!.EnvironmentFile).toContain('/srv/colo-ft/deploy/agent-node.env');
    expect(readFileSync(join(root, 'srv/colo-ft/deploy/agent-node.env'), 'utf8')).toBe(readFileSync(join(DEPLOY, 'agent-node.env'), 'utf8'));
    expect(agent.Service!.Environment).toContain('PATH=/srv/colo-ft/libexec:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(one(agent, 'Service', 'User')).toBe('root');
    // A root agent needs no polkit grant to create the scopes.
    expect(existsSync(join(root, 'etc/polkit-1/rules.d/50-colo-ft.rules'))).toBe(false);
    expect(existsSync(join(root, 'srv/colo-ft/libexec/qemu-system-x86_64'))).toBe(true);
    const r = verify(UNITS.map((u) => join(unitDir, u)), unitDir);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('uninstall removes units, package, launcher and polkit rule, keeps /etc/colo-ft unless --purge', () => {
    const root = join(tmpRun('deploy-uninstall'), 'root');
    run('install.sh', ['--root', root, '--skip-deps', '--node', 'alpha']);
    mkdirSync(join(root, 'etc/colo-ft'), { recursive: true });
    writeFileSync(join(root, 'etc/colo-ft/demo.yaml'), 'pair: demo\n');
    const out = run('uninstall.sh', ['--root', root]);
    expect(out).toContain('kept /etc/colo-ft');
    expect(listTree(root)).toEqual(['etc/colo-ft/demo.yaml', 'etc/colo-ft/example-pair.yaml.example', 'etc/colo-ft/node.env']);
    // Twice is fine.
    run('uninstall.sh', ['--root', root]);
    run('uninstall.sh', ['--root', root, '--purge']);
    expect(listTree(root)).toEqual([]);
  });
});
