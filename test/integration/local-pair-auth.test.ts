import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { runDrill } from '../../cli/drill/run-drill.js';
import { NatsUnavailableError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import { connectBus, kvBuckets, kvKeys, subjects } from '../../shared/nats/index.js';
import { runCli } from '../helpers/cli.js';
import { violations } from '../helpers/nats-cluster.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';

const DENIED = /Permissions Violation for Publish/;
const anything = z.unknown();

describe("the test pair's NATS: the production account, logins made for this run", () => {
  it('refuses anonymous and wrong-password clients; agents log in as themselves; the read-only login cannot drill; serve refuses a commanding login', async () => {
    const dir = tmpRun('local-pair-auth');
    const pair = await setupPair(dir);
    const connect = (creds: { user?: string; password?: string }) =>
      connectBus({ servers: [pair.natsUrl], name: 'probe', connectTimeoutMs: 2_000, log: silentLogger(), ...creds });
    // Nobody gets in without one of this run's logins.
    await expect(connect({})).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ user: 'test-operator', password: 'not-the-password' })).rejects.toThrow(/Authorization Violation/i);
    await expect(connect({ user: 'other-operator', password: pair.natsAuth.operator.password })).rejects.toThrow(/Authorization Violation/i);

    // Each file holds one login, readable by its owner only; each agent's file is its own.
    const userIn = (path: string) => (parse(readFileSync(path, 'utf8')) as { nats: { user: string } }).nats.user;
    expect(userIn(pair.configs.operator)).toBe('test-operator');
    expect(userIn(pair.configs.dashboard)).toBe('test-dashboard');
    for (const node of ['alpha', 'beta'] as const) {
      expect(userIn(pair.configs.nodes[node]!)).toBe(`test-${node}`);
      expect(pair.nodeConfig(node).nats.user).toBe(`test-${node}`);
    }
    for (const path of [pair.configs.operator, pair.configs.dashboard, ...Object.values(pair.configs.nodes)]) expect(statSync(path).mode & 0o777, path).toBe(0o600);

    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const before = await pair.waitProtected();
    // At the server: each agent's connection is logged in as that node's user, the test's as operator and dashboard.
    const logins = await pair.natsLogins();
    expect(logins).toEqual(
      expect.arrayContaining([
        { name: 'colo-ft-agent-test-alpha', user: 'test-alpha' },
        { name: 'colo-ft-agent-test-beta', user: 'test-beta' },
        { name: 'test-client', user: 'test-operator' },
        { name: 'test-dashboard', user: 'test-dashboard' },
      ]),
    );
    expect(logins.filter((l) => l.user === '')).toEqual([]);

    // The read-only login: a drill is refused by the server, by the bus and by the CLI, and nothing happens.
    await expect(pair.dashboard.request(subjects.rpc('test', 'vm1', 'alpha', 'drill'), { mode: 'crash' }, anything, { timeoutMs: 1_000 })).rejects.toThrow(DENIED);
    await expect(pair.dashboard.request(subjects.rpc('test', 'vm1', 'alpha', 'command'), { op: 'x' }, anything, { timeoutMs: 1_000 })).rejects.toThrow(DENIED);
    const cliDrill = await runCli(['drill', '--config', pair.configs.dashboard, '--vm', 'vm1', '--fail', 'primary', '--yes', '--json'], { timeoutMs: 30_000 });
    expect(cliDrill.code, cliDrill.stdout).not.toBe(0);
    expect(cliDrill.stdout + cliDrill.stderr).toMatch(/Permissions Violation/);
    // The read-only login cannot write the lease either (the lease is what a takeover turns on).
    const dashLease = await pair.dashboard.kv(kvBuckets.lease('test'));
    await expect(dashLease.put(kvKeys.lease('vm1'), new TextEncoder().encode('{}'))).rejects.toBeInstanceOf(NatsUnavailableError);
    const still = await pair.status();
    expect(still.protected, still.reason).toBe(true);
    expect(still.epoch).toBe(before.epoch);

    // status works with the read-only login; serve refuses the operator's and an agent's.
    const status = await runCli(['status', '--config', pair.configs.dashboard, '--json']);
    expect(status.code, status.stderr).toBe(0);
    for (const path of [pair.configs.operator, pair.configs.nodes.alpha!]) {
      const serve = await runCli(['serve', '--config', path, '--listen', '127.0.0.1:0']);
      expect(serve.code, path).toBe(2);
      expect(serve.stderr).toMatch(/NATS user 'test-(operator|alpha)' can command agents; give serve the pair's read-only login \(test-dashboard/);
    }

    // The operator's login drives a real drill; the agents' permissions were enough for all of it.
    const report = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(report.takeoverMs, report.reason).not.toBeNull();
    expect(report.epochAfter).toBeGreaterThan(report.epochBefore);
    // Every violation at the server is one this test provoked with the read-only login; the agents',
    // the operator's and the CLI's permissions were enough for everything else.
    const provoked = [subjects.rpc('test', 'vm1', 'alpha', 'drill'), subjects.rpc('test', 'vm1', 'alpha', 'command'), `$KV.${kvBuckets.lease('test')}.${kvKeys.lease('vm1')}`];
    const log = readFileSync(join(dir, 'nats', 'nats-server.log'), 'utf8');
    const unexpected = violations(log).filter((l) => !(l.includes('User "test-dashboard"') && provoked.some((s) => l.includes(`Subject "${s}"`))));
    expect(unexpected).toEqual([]);
    expect(violations(log).length).toBeGreaterThanOrEqual(3);
  });
});
