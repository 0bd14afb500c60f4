import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LockConflictError, NatsUnavailableError, PeerUnreachableError } from '../../shared/errors.js';
import { createLease } from '../../shared/lease/index.js';
import { silentLogger } from '../../shared/log.js';
import { connectBus, drillRequestSchema, kvBuckets, kvKeys, subjects, type Bus } from '../../shared/nats/index.js';
import { runDrill } from '../../cli/drill/run-drill.js';
import { issuePairPki } from '../../shared/tls/index.js';
import { setupAuthPair } from '../helpers/auth-pair.js';
import { natsTlsLogin } from '../helpers/tls-probe.js';
import { GENERATOR, startNatsCluster, violations, type NatsCluster } from '../helpers/nats-cluster.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const PAIRS = [
  { name: 'demo', nodes: ['alpha', 'beta'] as [string, string] },
  { name: 'other', nodes: ['alpha', 'beta'] as [string, string] },
];
const QUIET_MS = 400;
/** nats.js fails a request the server refused with the server's message; the bus passes it on. */
const DENIED = /Permissions Violation for Publish/;
const anything = z.unknown();

const FLUSH_SUBJECT = subjects.agentStatus('demo', 'nobody');

/** Everything `bus` receives on `subject`, collected until the test reads it. */
function collect(bus: Bus, subject: string): unknown[] {
  const got: unknown[] = [];
  bus.subscribe(subject, anything, (m, on) => {
    if (on !== FLUSH_SUBJECT) got.push(m);
  });
  return got;
}

function violationFor(c: NatsCluster, user: string, subject: string): boolean {
  return violations(c.logs()).some((l) => l.includes(`User "${user}"`) && l.includes(`"${subject}"`));
}

/** nats-server writes the violation to its log a moment after it refuses the message: wait for the line. */
async function expectViolation(c: NatsCluster, user: string, subject: string): Promise<void> {
  await waitFor(() => violationFor(c, user, subject), { timeoutMs: 3_000, what: `a permissions violation for ${user} on ${subject} in the server logs` });
}

/**
 * A request to a responder on another server of the cluster: its interest reaches the
 * other servers over the routes a moment after it subscribed, and until then NATS answers
 * "no responders" (nothing was delivered), so only that is retried.
 */
async function requestRouted(bus: Bus, subject: string, body: unknown): Promise<unknown> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    try {
      return await bus.request(subject, body, anything, { timeoutMs: 2_000 });
    } catch (e) {
      if (!(e instanceof PeerUnreachableError) || Date.now() > deadline) throw e;
      await sleep(20);
    }
  }
}

/** Subscriptions are registered at the server once a round trip on the same connection completes (no responders: fast). */
async function flushed(bus: Bus): Promise<void> {
  await bus.request(FLUSH_SUBJECT, {}, anything, { timeoutMs: 200 }).catch(() => undefined);
}

describe('generated NATS config', () => {
  it('renders three member configs nats-server accepts, and reuses every secret on a second run', () => {
    const dir = tmpRun('nats-gen');
    const spec = join(dir, 'cluster.json');
    const example = JSON.parse(readFileSync(join(process.cwd(), 'deploy/nats/cluster.example.json'), 'utf8')) as Record<string, unknown>;
    const out = join(dir, 'out');
    // The example as shipped, but the servers find their certificates where the generator put them.
    writeFileSync(spec, JSON.stringify({ ...example, accountsPath: undefined, pairs: PAIRS, serverTlsDir: join(out, 'tls/servers/{server}') }));
    execFileSync(process.execPath, [GENERATOR, '--spec', spec, '--out', out]);
    const first = readFileSync(join(out, 'accounts.conf'), 'utf8');
    const certOf = (member: string) => readFileSync(join(out, `tls/servers/${member}/route-cert.pem`), 'utf8');
    const firstCert = certOf('alpha');
    for (const member of ['alpha', 'beta', 'witness']) {
      // -t: parse and check the config (and load its certificates), then exit.
      execFileSync('nats-server', ['-t', '-c', join(out, `${member}.conf`)], { stdio: 'pipe' });
      const conf = readFileSync(join(out, `${member}.conf`), 'utf8');
      // TLS on the client port and on routes, each verifying the peer's certificate; routes carry no password.
      expect(conf.match(/tls \{[^}]*verify: true/g)).toHaveLength(2);
      expect(conf).toMatch(/cluster \{[^]*tls \{[^}]*route-ca\.pem/);
      expect(conf).not.toMatch(/nats-route:\/\/[^"]*@/);
      expect(conf).not.toMatch(/password:/);
    }
    const secrets = JSON.parse(readFileSync(join(out, 'secrets.json'), 'utf8')) as { users: Record<string, string> };
    for (const member of ['alpha', 'beta', 'witness']) expect(readFileSync(join(out, `${member}.conf`), 'utf8')).not.toContain(secrets.users['demo-alpha']!);
    expect(readFileSync(join(out, 'credentials/demo/demo-alpha.yaml'), 'utf8')).toMatch(
      /servers: \["tls:\/\/10\.0\.0\.1:4222"[^\n]*\n {2}user: "demo-alpha"\n {2}password: "[\w-]{32}"\n {2}tls:\n {4}caFile: "\/etc\/colo-ft\/nats-tls\/demo-alpha\/ca.pem"\n[^]*kvReplicas: 3/,
    );
    for (const key of ['tls/route-ca-key.pem', 'tls/client-ca-key.pem', 'tls/servers/beta/route-key.pem', 'tls/clients/demo/demo-alpha/key.pem']) {
      expect(statSync(join(out, key)).mode & 0o777, key).toBe(0o600);
    }
    execFileSync(process.execPath, [GENERATOR, '--spec', spec, '--out', out]);
    expect(readFileSync(join(out, 'accounts.conf'), 'utf8')).toBe(first);
    expect(certOf('alpha')).toBe(firstCert);
  });
});

describe('authenticated three-server NATS cluster (generated config)', () => {
  it('refuses plain TCP clients, and TLS clients without credentials or with a wrong password', async () => {
    const c = await startNatsCluster(tmpRun('nats-auth-anon'), PAIRS);
    // Plain TCP (no TLS): refused before any credential is sent.
    await expect(connectBus({ servers: c.urls, name: 'plain', connectTimeoutMs: 2_000, log: silentLogger(), ...c.users['demo-operator']! })).rejects.toBeInstanceOf(NatsUnavailableError);
    // A valid certificate, but no credentials or a wrong password: the server refuses the login.
    await expect(c.connect(null, { tls: c.tlsOf('demo-operator') })).rejects.toThrow(/Authorization Violation/i);
    c.users['demo-operator'] = { user: 'demo-operator', password: 'not-the-password' };
    await expect(c.connect('demo-operator')).rejects.toThrow(/Authorization Violation/i);
    // The same client with everything right gets in.
    await expect(c.connect('demo-alpha')).resolves.toBeDefined();
  });

  it('refuses a TLS client without a certificate, and one with a certificate from another CA, even with the right password', async () => {
    const dir = tmpRun('nats-auth-certs');
    const c = await startNatsCluster(join(dir, 'nats'), PAIRS);
    const own = c.tlsOf('demo-operator');
    const login = { user: 'demo-operator', pass: c.users['demo-operator']!.password };
    const stranger = issuePairPki({ dir: join(dir, 'stranger-pki'), pair: 'stranger', nodes: [{ name: 'demo-operator', address: '127.0.0.1' }] });
    // By hand (nats.js retries a refused handshake instead of failing): the right certificate is let in (the control) ...
    expect(await natsTlsLogin(c.urls[0]!, own, login)).toBe('accepted');
    // ... none, or another CA's, is not: no PONG, the server ends the connection.
    const none = await natsTlsLogin(c.urls[0]!, { caFile: own.caFile }, login);
    const foreign = await natsTlsLogin(c.urls[0]!, { caFile: own.caFile, certFile: stranger.nodes[0]!.cert, keyFile: stranger.nodes[0]!.key }, login);
    console.log(`no certificate: ${none}; another CA's: ${foreign}`);
    expect(none).not.toBe('accepted');
    expect(foreign).not.toBe('accepted');
    expect(none).not.toBe('no answer');
    expect(foreign).not.toBe('no answer');
    await waitFor(() => (c.logs().match(/TLS handshake error/g) ?? []).length >= 2, { timeoutMs: 5_000, what: 'two TLS handshake errors in the server log' });
  });

  it("another pair's agent cannot command this pair; this pair's own agents cannot either, nor speak for their peer", async () => {
    const c = await startNatsCluster(tmpRun('nats-auth-cross'), PAIRS);
    const beta = await c.connect('demo-beta');
    const alpha = await c.connect('demo-alpha');
    const stranger = await c.connect('other-alpha');
    const received = collect(beta, 'colo.demo.>');
    const servedDrills: unknown[] = [];
    beta.serve(subjects.rpc('demo', 'vm1', 'beta', 'drill'), drillRequestSchema, async (r) => void servedDrills.push(r));
    beta.serve(subjects.rpc('demo', 'vm1', 'beta', 'readiness'), anything, async () => ({ ready: true }));
    await flushed(beta);

    // Another pair's credentials: refused by the server, and nothing reaches this pair.
    const drill = subjects.rpc('demo', 'vm1', 'beta', 'drill');
    await expect(stranger.request(drill, { mode: 'crash' }, anything, { timeoutMs: 500 })).rejects.toThrow(DENIED);
    stranger.publish(subjects.rpc('demo', 'vm1', 'beta', 'command'), { op: 'x' });
    stranger.publish(subjects.heartbeat('demo', 'vm1', 'alpha'), { forged: true });
    // Its own pair's subjects are its own account's: still nothing here.
    stranger.publish(subjects.heartbeat('other', 'vm1', 'alpha'), { own: true });

    // The peer agent of the same pair: no drill/command/restore, no heartbeat or status as beta.
    await expect(alpha.request(drill, { mode: 'crash' }, anything, { timeoutMs: 500 })).rejects.toThrow(DENIED);
    alpha.publish(subjects.rpc('demo', 'vm1', 'beta', 'restore'), {});
    alpha.publish(subjects.heartbeat('demo', 'vm1', 'beta'), { forged: true });
    alpha.publish(subjects.status('demo', 'vm1', 'beta'), { forged: true });
    await sleep(QUIET_MS);
    expect(received).toEqual([]);
    expect(servedDrills).toEqual([]);
    await expectViolation(c, 'other-alpha', drill);
    await expectViolation(c, 'demo-alpha', drill);
    await expectViolation(c, 'demo-alpha', subjects.heartbeat('demo', 'vm1', 'beta'));

    // What an agent must be able to do still works: ask its peer's readiness (the
    // peer answers through allow_responses) and publish its own heartbeat.
    await expect(requestRouted(alpha, subjects.rpc('demo', 'vm1', 'beta', 'readiness'), {})).resolves.toEqual({ ready: true });
    alpha.publish(subjects.heartbeat('demo', 'vm1', 'alpha'), { hb: 1 });
    await waitFor(() => received.some((m) => JSON.stringify(m) === '{"hb":1}'), { timeoutMs: 2_000, what: "alpha's own heartbeat" });
  });

  it('the dashboard credential follows status, events and the status bucket, and can publish nothing that matters', async () => {
    const c = await startNatsCluster(tmpRun('nats-auth-dashboard'), PAIRS);
    const alpha = await c.connect('demo-alpha');
    const beta = await c.connect('demo-beta');
    const dash = await c.connect('demo-dashboard');
    const seenByDash = collect(dash, subjects.everyStatus());
    const events = collect(dash, subjects.everyEvent());
    const seenByBeta = collect(beta, 'colo.demo.>');
    beta.serve(subjects.agentStatus('demo', 'beta'), anything, async () => ({ node: 'beta', vms: [] }));
    await flushed(dash);
    await flushed(beta);

    alpha.publish(subjects.status('demo', 'vm1', 'alpha'), { phase: 'coloRunning' });
    alpha.publish(subjects.events('demo', 'vm1'), { kind: 'test' });
    await waitFor(() => seenByDash.length === 1 && events.length === 1, { timeoutMs: 2_000, what: 'status and event at the dashboard' });
    // A status query is the one request it may make (answered from memory, no effect).
    await expect(requestRouted(dash, subjects.agentStatus('demo', 'beta'), {})).resolves.toEqual({ node: 'beta', vms: [] });

    // The agent creates and writes the status bucket; the dashboard reads and watches it.
    const agentKv = await alpha.kv(kvBuckets.status('demo'), { replicas: 3 });
    await agentKv.put(kvKeys.status('vm1', 'alpha'), new TextEncoder().encode('{"p":1}'));
    const dashKv = await dash.kv(kvBuckets.status('demo'), { replicas: 3 });
    expect(new TextDecoder().decode((await dashKv.get(kvKeys.status('vm1', 'alpha')))!.value)).toBe('{"p":1}');
    await expect(dashKv.put(kvKeys.status('vm1', 'alpha'), new TextEncoder().encode('{"forged":1}'))).rejects.toBeInstanceOf(NatsUnavailableError);
    await expectViolation(c, 'demo-dashboard', `$KV.colo-ft-demo-status.vm1.alpha`);

    // Publishing anything else: refused, nothing delivered.
    const before = seenByBeta.length;
    dash.publish(subjects.status('demo', 'vm1', 'beta'), { forged: true });
    dash.publish(subjects.heartbeat('demo', 'vm1', 'alpha'), { forged: true });
    dash.publish(subjects.events('demo', 'vm1'), { forged: true });
    await expect(dash.request(subjects.rpc('demo', 'vm1', 'beta', 'drill'), { mode: 'crash' }, anything, { timeoutMs: 500 })).rejects.toThrow(DENIED);
    await sleep(QUIET_MS);
    expect(seenByBeta.slice(before)).toEqual([]);
    await expectViolation(c, 'demo-dashboard', subjects.status('demo', 'vm1', 'beta'));

    // Watching many large entries needs the flow-control replies ($JS.FC.>): without
    // them the watch stalls after a few dozen entries.
    const big = new Uint8Array(60_000).fill(0x41);
    const many = 300;
    await Promise.all(Array.from({ length: many }, (_, i) => agentKv.put(kvKeys.status(`vm${i}`, 'beta'), big)));
    const watch = await dashKv.watch();
    const keys = new Set<string>();
    const started = Date.now();
    for await (const change of watch) {
      keys.add(change.key);
      if (keys.size >= many + 1) break;
    }
    watch.stop();
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(violations(c.logs()).filter((l) => l.includes('$JS.FC'))).toEqual([]);
  });

  it('only the operator can send a drill, and the agent receives and answers it', async () => {
    const c = await startNatsCluster(tmpRun('nats-auth-operator'), PAIRS);
    const beta = await c.connect('demo-beta');
    const operator = await c.connect('demo-operator');
    const drills: unknown[] = [];
    beta.serve(subjects.rpc('demo', 'vm1', 'beta', 'drill'), drillRequestSchema, async (r) => {
      drills.push(r);
      return { accepted: true };
    });
    beta.serve(subjects.rpc('demo', 'vm1', 'beta', 'restore'), anything, async () => ({ restoring: true }));
    await flushed(beta);
    await expect(requestRouted(operator, subjects.rpc('demo', 'vm1', 'beta', 'drill'), { mode: 'crash' })).resolves.toEqual({ accepted: true });
    await expect(requestRouted(operator, subjects.rpc('demo', 'vm1', 'beta', 'restore'), {})).resolves.toEqual({ restoring: true });
    expect(drills).toEqual([{ mode: 'crash' }]);
    // The operator of one pair is nobody to another pair.
    const otherOperator = await c.connect('other-operator');
    await expect(otherOperator.request(subjects.rpc('demo', 'vm1', 'beta', 'drill'), { mode: 'crash' }, anything, { timeoutMs: 500 })).rejects.toThrow(DENIED);
    expect(drills).toHaveLength(1);
    // No agent-side violation: answering through allow_responses is enough.
    expect(violations(c.logs()).filter((l) => l.includes('User "demo-beta"'))).toEqual([]);
  });

  it('the R3 lease survives the loss of one server; with two lost a claim fails and the contender stays passive', async () => {
    const c = await startNatsCluster(tmpRun('nats-auth-quorum'), PAIRS);
    const ttlMs = 1_500;
    const leaseOf = async (node: 'alpha' | 'beta') => {
      const bus = await c.connect(`demo-${node}`);
      const kv = await bus.kv(kvBuckets.lease('demo'), { replicas: 3 });
      return createLease({ kv, key: kvKeys.lease('vm1'), node, ttlMs });
    };
    const alpha = await leaseOf('alpha');
    const beta = await leaseOf('beta');
    const { epoch } = await alpha.claim();
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);

    // One of three lost (SIGKILL, like a host gone): renewals go on, same holder and epoch.
    await c.members[0]!.stop('SIGKILL');
    const lostOneAt = Date.now();
    const renewed = await waitFor(async () => alpha.renew(), { timeoutMs: 10_000, intervalMs: 100, what: 'a renewal with one server lost' });
    const gapMs = Date.now() - lostOneAt;
    expect(renewed).toEqual({ epoch });
    for (let i = 0; i < 5; i++) {
      await sleep(ttlMs / 5);
      await expect(alpha.renew()).resolves.toEqual({ epoch });
    }
    await expect(beta.claim()).rejects.toBeInstanceOf(LockConflictError);
    expect(await beta.read()).toMatchObject({ holder: 'alpha', epoch });
    console.info(`lease: first renewal ${gapMs} ms after losing one NATS server of three`);

    // Two of three lost: no JetStream majority. The holder cannot renew, and once the
    // lease has expired the contender still cannot win it: it must stay passive.
    await c.members[1]!.stop('SIGKILL');
    await sleep(ttlMs + 200);
    await expect(alpha.renew()).rejects.toBeInstanceOf(NatsUnavailableError);
    expect(alpha.isHeldLocally()).toBe(false);
    const claim = beta.claim();
    await expect(claim).rejects.toBeInstanceOf(NatsUnavailableError);
    expect(beta.isHeldLocally()).toBe(false);
    expect(beta.epoch).toBe(epoch);
  });
});

describe('a COLO pair on the authenticated three-server cluster', () => {
  it('protects with per-node agent credentials, keeps protection when one NATS server is lost, and fails over on an operator drill', async () => {
    // Production timings for a three-server NATS: a client reconnect (~0.5 s) stays
    // under the heartbeat timeout, and a lease stream leader election (up to ~7 s on
    // nats-server 2.9) under the lease TTL. With the defaults (500 ms / 1.5 s) losing
    // the server that leads the lease stream makes the secondary suspect its peer and
    // the pair drop protection (strict: "cannot win the lease ... staying passive").
    const pair = await setupAuthPair(tmpRun('nats-auth-pair'), { timings: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 2_000, leaseTtlMs: 10_000 } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    const protectedBefore = await pair.waitProtected();

    // One NATS server of three lost: the pair stays protected, no failover.
    await pair.cluster.members[0]!.stop('SIGKILL');
    await sleep(3_000);
    const after = await pair.status();
    expect(after.protected, after.reason).toBe(true);
    expect(after.epoch).toBe(protectedBefore.epoch);
    // The lease stream may have lost its leader with that server: the drill starts once
    // a lease-bucket write goes through again (a probe key, no VM's lease).
    const probeBus = await pair.cluster.connect('demo-alpha');
    const lostAt = Date.now();
    await waitFor(async () => (await probeBus.kv(kvBuckets.lease('demo'), { replicas: 3 })).put('probe', new TextEncoder().encode('1')), { timeoutMs: 15_000, intervalMs: 100, what: 'lease bucket writable with two servers' });
    console.info(`pair: lease bucket writable ${Date.now() - lostAt + 3_000} ms after losing one NATS server`);

    // The operator credential drives a full drill: crash the primary, the secondary takes over.
    const report = await runDrill(pair.operator, pair.operatorConfig, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(report, report.reason).toMatchObject({ ok: true, dataVerified: true, singleActive: true, survivor: 'beta' });
    expect(report.epochAfter).toBeGreaterThan(report.epochBefore);

    // The agents' permission set was enough for all of it: no violation by any agent or the operator.
    expect(violations(pair.cluster.logs())).toEqual([]);
  });
});
