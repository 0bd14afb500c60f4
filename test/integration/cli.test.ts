import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../shared/local/index.js';
import { runCli } from '../helpers/cli.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';

describe('colo-ft CLI against real processes', () => {
  it('config check prints every error with its path and exits 2', async () => {
    const dir = tmpRun('config-check');
    const pki = join(dir, 'pki');
    const good = readFileSync(join(process.cwd(), 'deploy', 'example-pair.yaml'), 'utf8').replace(/pkiDir: \S+/, `pkiDir: ${pki}`);
    const example = join(dir, 'example.yaml');
    writeFileSync(example, good);
    // TLS is on in the example: without the pair's certificates the check says what to run.
    const noCerts = await runCli(['config', 'check', example]);
    expect(noCerts.code).toBe(2);
    expect(noCerts.stderr).toMatch(/replication\.pkiDir: no node's certificate in .*colo-ft certs init/);
    const issued = await runCli(['certs', 'init', '--config', example]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toMatch(/alpha .*alpha-cert\.pem and .*alpha-key\.pem \(mode 0600\)/);
    expect((await runCli(['certs', 'init', '--config', example])).stderr).toMatch(/already holds a CA; pass --force/);
    const ok = await runCli(['config', 'check', example]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/ok/);
    expect(ok.stdout).toMatch(/alpha: certificate ok, expires 20\d\d-/);
    expect(ok.stdout).toMatch(/beta: certificate ok/);
    const json = JSON.parse((await runCli(['config', 'check', example, '--json', '--node', 'beta'])).stdout);
    expect(json.tls).toMatchObject({ mode: 'on', pkiDir: pki, nodes: [{ node: 'beta', ok: true, problems: [] }] });
    const bad = good
      .replace(/policy: strict/, 'policy: sometimes')
      .replace(/heartbeatTimeoutMs: \d+/, 'heartbeatTimeoutMs: 10');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, `${bad}\nsurprise: 1\n`);
    const res = await runCli(['config', 'check', file]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/failover\.policy: .*strict.*relaxed/s);
    expect(res.stderr).toMatch(/timings\.heartbeatTimeoutMs/);
    expect(res.stderr).toMatch(/surprise/);
  });

  it('with --json every outcome is one JSON object, errors included, and the exit codes stay', async () => {
    const dir = tmpRun('cli-json-errors');
    const example = join(process.cwd(), 'deploy', 'example-pair.yaml');
    const one = (out: string) => {
      const lines = out.trim().split('\n');
      expect(lines).toHaveLength(1);
      return JSON.parse(lines[0]!);
    };
    const noVm = await runCli(['status', '--config', example, '--vm', 'nosuch', '--json']);
    expect(noVm.code).toBe(2);
    expect(one(noVm.stdout)).toEqual({ ok: false, error: { code: 'NO_SUCH_VM', message: expect.stringContaining("no VM named 'nosuch'") } });
    const unconfirmed = await runCli(['drill', '--config', example, '--vm', 'vm1', '--fail', 'primary', '--json']);
    expect(unconfirmed.code).toBe(2);
    expect(one(unconfirmed.stdout)).toMatchObject({ ok: false, error: { code: 'NOT_CONFIRMED' } });
    const restoreNoVm = await runCli(['restore', '--config', example, '--vm', 'nosuch', '--json']);
    expect(restoreNoVm.code).toBe(2);
    expect(one(restoreNoVm.stdout)).toMatchObject({ ok: false, error: { code: 'NO_SUCH_VM' } });
    const file = join(dir, 'bomb.yaml');
    writeFileSync(file, 'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n');
    const bomb = await runCli(['config', 'check', file, '--json']);
    expect(bomb.code).toBe(2);
    expect(one(bomb.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID' }, errors: [{ message: expect.stringMatching(/could not be expanded/) }] });
    const bombStatus = await runCli(['status', '--config', file]);
    expect(bombStatus.code).toBe(2);
    expect(bombStatus.stderr).not.toMatch(/ReferenceError|at .*\.js:\d+/);
  });

  it('an agent with a bad config fails fast naming the path', async () => {
    const dir = tmpRun('agent-bad-config');
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'pair: x\nnodes: []\n');
    const started = Date.now();
    const res = await runCli(['agent', '--config', file, '--node', 'alpha']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/nats/);
    expect(res.stderr).toMatch(/nodes/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an unreachable NATS is reported as such by status and by the agent', async () => {
    const dir = tmpRun('nats-unreachable');
    const pair = await setupPair(dir);
    const deadPort = await freePort();
    const text = readFileSync(pair.configPath, 'utf8').replace(pair.natsUrl, `nats://127.0.0.1:${deadPort}`);
    const file = join(dir, 'dead-nats.yaml');
    writeFileSync(file, text);
    const status = await runCli(['status', '--config', file, '--json']);
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ ok: false, error: { code: 'NATS_UNREACHABLE' } });
    expect(JSON.parse(status.stdout).error.message).toContain(`127.0.0.1:${deadPort}`);
    const human = await runCli(['status', '--config', file]);
    expect(human.code).toBe(3);
    expect(human.stderr).toMatch(/NATS unreachable/);
    const agent = await runCli(['agent', '--config', file, '--node', 'alpha']);
    expect(agent.code).toBe(3);
    expect(agent.stderr).toMatch(/cannot reach NATS/);
  });

  it('status over NATS prints the contract fields for a protected pair', async () => {
    const pair = await setupPair(tmpRun('status-cli'));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const res = await runCli(['status', '--config', pair.configPath, '--json']);
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const s = JSON.parse(lines[0]!);
    expect(s).toMatchObject({ vm: 'vm1', protected: true, phase: 'coloRunning', epoch: expect.any(Number), reason: expect.any(String) });
    for (const n of s.nodes) {
      expect(Object.keys(n)).toEqual(expect.arrayContaining(['node', 'role', 'qemuPid', 'qmpSocket', 'runState', 'coloMode', 'checkpoints']));
    }
    expect(Object.keys(s.checkpoints).sort()).toEqual(['count', 'lastAgeMs', 'lastPauseMs', 'pauseMsP50', 'pauseMsP99', 'pausedFraction', 'ratePerSec', 'recentPauses']);
    const human = await runCli(['status', '--config', pair.configPath]);
    expect(human.stdout).toMatch(/pause over the last minute: p50 [\d.]+ ms, p99 [\d.]+ ms, guest stopped [\d.]+ %/);
    expect(human.stdout).toMatch(/vm1: PROTECTED/);
    expect(human.stdout).toMatch(/alpha: primary .*COLO mode primary/);
  });
});
