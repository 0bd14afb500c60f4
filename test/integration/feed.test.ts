import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { startFeedServer } from '../../shared/feed/index.js';
import { silentLogger } from '../../shared/log.js';
import { feedVmStatusSchema, type FeedVmStatus } from '../../shared/nats/index.js';
import { CLI } from '../helpers/cli.js';
import { violations } from '../helpers/nats-cluster.js';
import { setupPair } from '../helpers/pair.js';
import { metricValue, openSse } from '../helpers/sse.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

async function metrics(url: string): Promise<string> {
  const res = await fetch(new URL('/metrics', url));
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
}

/** A CLI process whose stdout lines are collected; stopped by PID when the test ends. */
function spawnCli(args: string[]) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, exited, stderr: () => stderr };
}

describe('status feed on real qemu and nats-server', () => {
  it('SSE shows the pair protected, then the takeover with the new epoch; /metrics moves with it', async () => {
    const pair = await setupPair(tmpRun('feed-sse'));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    // The feed reads with the read-only login, as `serve` does; the drill below goes with the operator's.
    const server = await startFeedServer({ bus: pair.dashboard, config: pair.dashboardConfig, log: silentLogger() });
    onTestFinished(() => server.close());
    expect(server.host).toBe('127.0.0.1');
    const sse = await openSse(new URL('/events', server.url).href);

    const prot = await sse.waitFor((v) => v.vm === 'vm1' && v.protected, 'vm1 protected');
    expect(prot).toMatchObject({ pair: 'test', vm: 'vm1', phase: 'coloRunning' });
    expect(prot.nodes.map((n) => [n.node, n.role, n.coloMode])).toEqual([
      ['alpha', 'primary', 'primary'],
      ['beta', 'secondary', 'secondary'],
    ]);
    // The same names as `colo-ft status --json`.
    const cli = await pair.status('vm1');
    for (const k of Object.keys(cli)) expect(prot).toHaveProperty(k);

    const withCheckpoints = await sse.waitFor((v) => v.protected && v.lastPausesMs.length >= 2, 'checkpoint pauses charted');
    const before = await metrics(server.url);
    const checkpointsBefore = metricValue(before, 'colo_ft_checkpoints_total{pair="test",vm="vm1"}')!;
    expect(checkpointsBefore).toBeGreaterThan(0);
    expect(metricValue(before, 'colo_ft_protected{pair="test",vm="vm1"}')).toBe(1);
    expect(metricValue(before, 'colo_ft_checkpoint_pause_seconds_count{pair="test",vm="vm1"}')).toBeGreaterThan(0);
    expect(metricValue(before, /^colo_ft_failovers_total\{/)).toBeUndefined();
    expect(metricValue(before, 'colo_ft_lease_epoch{pair="test",vm="vm1"}')).toBe(withCheckpoints.epoch);
    // While protected the checkpoint counter moves with the primary's count.
    await waitFor(async () => metricValue(await metrics(server.url), 'colo_ft_checkpoints_total{pair="test",vm="vm1"}')! > checkpointsBefore, {
      timeoutMs: 15_000,
      what: 'checkpoints_total growing',
    });

    const report = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    // The feed is under test, not the drill's data check: a takeover with a new epoch is what must show.
    expect(report.takeoverMs, report.reason).not.toBeNull();
    expect(report.epochAfter, report.reason).toBeGreaterThan(report.epochBefore);
    const after = await sse.waitFor(
      (v) => v.epoch === report.epochAfter && v.nodes.some((n) => n.node === 'beta' && n.role === 'primary') && v.events.some((e) => e.kind === 'takeover-done'),
      `takeover by beta with epoch ${report.epochAfter}`,
    );
    expect(after.protected).toBe(false);
    expect(after.epoch).toBeGreaterThan(prot.epoch);
    expect(after.failover).toMatchObject({ node: 'beta' });
    expect(after.events.map((e) => e.kind)).toContain('failover-started');
    expect(after.lease?.holder).toBe('beta');

    const text = await waitFor(async () => {
      const t = await metrics(server.url);
      return metricValue(t, /^colo_ft_failovers_total\{pair="test",vm="vm1",direction="alpha->beta",reason="[a-z-]+"\} /) === 1 ? t : false;
    }, { timeoutMs: 10_000, what: 'failovers_total alpha->beta = 1' });
    expect(metricValue(text, 'colo_ft_lease_epoch{pair="test",vm="vm1"}')).toBe(report.epochAfter);
    expect(metricValue(text, 'colo_ft_checkpoints_total{pair="test",vm="vm1"}')!).toBeGreaterThan(checkpointsBefore);
    expect(metricValue(text, 'colo_ft_feed_messages_total{kind="event"}')!).toBeGreaterThanOrEqual(2);

    // A second client sees the current state at once, not only what changes next.
    const late = await openSse(new URL('/events?vm=vm1', server.url).href);
    const first = await late.waitFor(() => true, 'the current state', 2_000);
    expect(first.epoch).toBe(report.epochAfter);
  });

  it('`colo-ft serve` and `colo-ft status --watch` follow the feed; loopback only by default', async () => {
    const pair = await setupPair(tmpRun('feed-cli'));
    // Both with the read-only login (dashboard.yaml), started before the agents made the buckets.
    const serve = spawnCli(['serve', '--config', pair.configs.dashboard, '--listen', '127.0.0.1:0']);
    const watch = spawnCli(['status', '--config', pair.configs.dashboard, '--watch', '--json']);
    const url = await waitFor(() => serve.lines.find((l) => l.startsWith('dashboard: '))?.slice('dashboard: '.length), { timeoutMs: 10_000, what: `serve's dashboard line (stderr: ${serve.stderr()})` });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    await pair.startAgent('alpha');
    await pair.startAgent('beta');

    const sse = await openSse(new URL('/events', url).href);
    await sse.waitFor((v) => v.vm === 'vm1' && v.protected, 'vm1 protected via colo-ft serve');
    // The read-only login cannot create the lease bucket: serve, up before the agents made it, watches it once it exists.
    await sse.waitFor((v) => v.vm === 'vm1' && v.lease?.holder === 'alpha', 'the lease holder via colo-ft serve');
    const watched = await waitFor(
      () => watch.lines.map((l) => feedVmStatusSchema.parse(JSON.parse(l)) as FeedVmStatus).find((v) => v.protected),
      { timeoutMs: 30_000, what: 'status --watch --json printing protected' },
    );
    expect(watched).toMatchObject({ vm: 'vm1', pair: 'test' });

    // A watcher started on a running pair reads the stored statuses first: its first word is not "no status yet".
    const late = spawnCli(['status', '--config', pair.configs.dashboard, '--watch', '--json']);
    const first = await waitFor(() => late.lines[0], { timeoutMs: 10_000, what: 'the late watcher\'s first line' });
    const firstView = feedVmStatusSchema.parse(JSON.parse(first));
    expect(firstView.nodes.every((n) => n.reachable), first).toBe(true);
    expect(firstView.reason).not.toMatch(/no status from/);
    late.child.kill('SIGINT');
    expect(await late.exited).toBe(0);

    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js">');
    // A loopback-bound dashboard refuses a foreign Host header (DNS rebinding).
    const port = new URL(url).port;
    const foreign = await new Promise<number>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { Host: `evil.example:${port}` } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(foreign).toBe(421);

    sse.close();
    serve.child.kill('SIGINT');
    watch.child.kill('SIGINT');
    expect(await serve.exited).toBe(0);
    expect(await watch.exited).toBe(0);
    // The read-only login was enough for serve and status --watch: no permission violation at the server.
    expect(violations(readFileSync(join(pair.dir, 'nats', 'nats-server.log'), 'utf8'))).toEqual([]);
  });
});
