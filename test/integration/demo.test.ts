import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sleep } from '../../shared/sleep.js';
import { pidsUnder, processCmdline, signalPid } from '../../shared/local/index.js';
import { silentLogger } from '../../shared/log.js';
import { connectBus } from '../../shared/nats/index.js';
import { parse } from 'yaml';
import { isPidAlive } from '../../shared/local/index.js';
import { CLI, runCli } from '../helpers/cli.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureTinyGuest, TEST_CACHE_HOME } from '../helpers/tiny-guest.js';

function pidsIn(text: string): number[] {
  const nats = [...text.matchAll(/nats-server pid (\d+)/g)].map((m) => Number(m[1]));
  const qemu = [...text.matchAll(/qemu pid (\d+)/g)].map((m) => Number(m[1]));
  return [...nats, ...qemu];
}

describe('colo-ft demo', () => {
  it('--until protected --json prints one status object, exits 0 and leaves nothing running', async () => {
    const dir = tmpRun('demo-until');
    const res = await runCli(['demo', '--until', 'protected', '--json', '--dir', dir], { timeoutMs: 90_000 });
    expect(res.code, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const status = JSON.parse(lines[0]!);
    expect(status).toMatchObject({ vm: 'vm1', protected: true, epoch: expect.any(Number) });
    const pids = [...pidsIn(res.stderr), ...status.nodes.map((n: { qemuPid: number }) => n.qemuPid)];
    expect(pids.length).toBe(3);
    for (const pid of pids) expect(isPidAlive(pid), `pid ${pid}`).toBe(false);
  });

  it('runs until Ctrl-C, printing the status, then tears everything down', async () => {
    const dir = tmpRun('demo-ctrl-c');
    const child = spawn(process.execPath, [CLI, 'demo', '--dir', dir, '--interval-ms', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
      // A demo killed before its teardown leaves its agents, qemu, relays and nats-server: all go by PID.
      for (const pid of pidsUnder(dir, (n) => ['node', 'qemu-system-x86_64', 'socat', 'nats-server'].includes(n))) signalPid(pid, 'SIGKILL');
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await waitFor(() => /^\d\d:\d\d:\d\d vm1 PROTECTED coloRunning epoch 1 \| alpha primary coloRunning \(qemu pid \d+\) · beta secondary coloRunning \(qemu pid \d+\) \| /m.test(out), { timeoutMs: 60_000, what: 'the demo to print a PROTECTED change line' });
    expect(out).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    // The commands to point at this pair, and what its NATS is.
    expect(out).toContain(`colo-ft drill --config ${dir}/pair.yaml --vm vm1 --fail primary`);
    expect(out).toContain(`colo-ft serve --config ${dir}/dashboard.yaml`);
    expect(out).toContain(`colo-ft status --watch --config ${dir}/dashboard.yaml`);
    expect(out).toMatch(/NATS listens on 127\.0\.0\.1 only and takes only this run's logins/);
    expect(out).toContain(`${dir}/dashboard.yaml read-only (serve, status --watch: cannot command an agent)`);
    // Not a TTY: change lines only, no status block every interval.
    const printedAtProtected = out.split('\n').length;
    await sleep(1_500);
    expect(out.split('\n').length).toBe(printedAtProtected);
    const pids = pidsIn(out);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    for (const pid of pids) expect(isPidAlive(pid)).toBe(true);

    // Its NATS takes no anonymous client; each agent runs with its own node's file and login.
    const natsUrl = /nats-server pid \d+ at (nats:\/\/127\.0\.0\.1:\d+)/.exec(out)![1]!;
    await expect(connectBus({ servers: [natsUrl], name: 'anonymous', connectTimeoutMs: 2_000, log: silentLogger() })).rejects.toThrow(/Authorization Violation/i);
    const userIn = (file: string) => (parse(readFileSync(join(dir, file), 'utf8')) as { nats: { user: string } }).nats.user;
    expect(['pair.yaml', 'dashboard.yaml', 'alpha.yaml', 'beta.yaml'].map(userIn)).toEqual(['demo-operator', 'demo-dashboard', 'demo-alpha', 'demo-beta']);
    const agentArgs = pidsUnder(dir, (n) => n === 'node').map(processCmdline).filter((a) => a.includes('agent'));
    const argOf = (a: string[], flag: string) => a[a.indexOf(flag) + 1];
    expect(agentArgs.map((a) => `${argOf(a, '--node')} ${argOf(a, '--config')}`).sort()).toEqual([`alpha ${dir}/alpha.yaml`, `beta ${dir}/beta.yaml`]);
    // The read-only file cannot start a drill: the server refuses it and the pair stays as it was.
    const drill = await runCli(['drill', '--config', join(dir, 'dashboard.yaml'), '--vm', 'vm1', '--fail', 'primary', '--yes', '--json'], { timeoutMs: 30_000 });
    expect(drill.code).not.toBe(0);
    expect(drill.stdout + drill.stderr).toMatch(/Permissions Violation/);
    for (const pid of pids) expect(isPidAlive(pid)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/no process left behind/);
    for (const pid of pids) expect(isPidAlive(pid), `pid ${pid}`).toBe(false);
  });

  it('--guest protects the tiny Linux guest under TCG and a drill fails it over: the report says why data was not checked', async () => {
    await ensureTinyGuest();
    const dir = tmpRun('demo-guest');
    const res = await runCli(['demo', '--guest', '--accelerator', 'tcg', '--drill', 'primary', '--yes', '--json', '--dir', dir], { timeoutMs: 150_000, env: { XDG_CACHE_HOME: TEST_CACHE_HOME } });
    expect(res.code, res.stderr).toBe(0);
    const report = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ ok: true, survivor: 'beta', singleActive: true, dataVerified: false, dataDisk: null });
    expect(report.reason).toMatch(/data not checked: the VM runs without periodic checkpoints/);
    expect(res.stderr).toMatch(/guest consoles: /);
    const survivorConsole = readFileSync(join(dir, 'beta', 'run', 'vm1', 'console.log'), 'latin1');
    // The drill runs as soon as the pair is protected, which may be before the guest finished booting: no counter is promised here.
    expect(survivorConsole).not.toMatch(/Oops|Kernel panic/);
  });
});
