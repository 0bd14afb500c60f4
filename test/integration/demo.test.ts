import { spawn } from 'node:child_process';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isPidAlive } from '../../shared/local/index.js';
import { CLI, runCli } from '../helpers/cli.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

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
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    await waitFor(() => /vm1: PROTECTED/.test(out), { timeoutMs: 60_000, what: 'the demo to print PROTECTED' });
    expect(out).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/$/m);
    const pids = pidsIn(out);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    for (const pid of pids) expect(isPidAlive(pid)).toBe(true);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toMatch(/no process left behind/);
    for (const pid of pids) expect(isPidAlive(pid), `pid ${pid}`).toBe(false);
  });
});
