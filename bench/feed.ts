/**
 * npm run bench:feed: the dashboard feed under load, all on loopback.
 * - 200 simulated VMs (two nodes each) publish valid NodeStatus messages at the
 *   agents' cadence from a process of their own (bench/feed-sim.ts): NATS
 *   messages per second and that process's CPU (what status publishing costs
 *   the agents), and the CPU of `colo-ft serve` following all of them.
 * - Meanwhile >= 200 transitions of one more VM are published, each stamped
 *   with its time; an SSE client on `colo-ft serve`'s /events (the whole
 *   stream, as the dashboard takes it) times each one's arrival: median and
 *   p99 transition -> SSE latency (target p99 <= 50 ms).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { localPairConfig } from '../cli/demo/pair-config.js';
import { startLocalNats } from '../shared/local/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus, subjects, type NodeStatus } from '../shared/nats/index.js';
import { fmtMs, median, percentile } from './stats.js';
import { cpuMsOf } from './proc.js';
import { sleep } from '../shared/sleep.js';

const VMS = Number(process.env.BENCH_FEED_VMS ?? 200);
const TRANSITIONS = Number(process.env.BENCH_FEED_TRANSITIONS ?? 250);
const SPACING_MS = 40;
const WARMUP_MS = 4_000;
const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', 'cli', 'main.js');
const now = () => performance.timeOrigin + performance.now();

function transition(seq: number, at: number): NodeStatus {
  return {
    vm: 'latency', node: 'alpha', role: 'primary', phase: seq % 2 ? 'stalled' : 'coloRunning', protected: seq % 2 === 0, degraded: seq % 2 === 1,
    reason: `transition ${seq}`, epoch: 1, qemuPid: 4242, qmpSocket: '/run/x/qmp.sock', runState: 'running', coloMode: 'primary', dataTls: true,
    checkpoints: { count: seq, ratePerSec: 5, lastPauseMs: 10, lastAgeMs: 10, pauseMsP50: 10, pauseMsP99: 10, pausedFraction: 0.05, recentPauses: [] },
    transitions: [{ at, from: seq % 2 ? 'coloRunning' : 'stalled', to: seq % 2 ? 'stalled' : 'coloRunning', reason: `transition ${seq}` }],
    natsConnected: true, heartbeatAgeMs: 20, resync: null, replication: null, disks: [], nics: [],
    failover: { phase: 'watching', trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null, takeoverSteps: null }, sentAt: at,
  };
}

function started(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (l) => l.startsWith(prefix) && resolve(l.slice(prefix.length)));
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing '${prefix}'`)));
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'colo-ft-bench-feed-'));
  const nats = await startLocalNats({ dir: join(dir, 'nats') });
  const children: ChildProcess[] = [];
  try {
    const configPath = join(dir, 'pair.yaml');
    writeFileSync(configPath, localPairConfig({ pair: 'bench', dir, natsUrl: nats.url, vms: [{ name: 'vm1', migrationPort: 1, nbdPort: 2, disks: 1 }] }));
    const serve = spawn(process.execPath, [CLI, 'serve', '--config', configPath, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(serve);
    const url = await started(serve, 'dashboard: ');

    // Count what goes over NATS on the status subjects, from outside both processes.
    const watcher = await connectBus({ servers: [nats.url], name: 'bench-count', log: silentLogger() });
    let statusMsgs = 0;
    watcher.subscribe(subjects.everyStatus(), z.unknown(), () => statusMsgs++);

    const sim = spawn(process.execPath, [join(HERE, 'feed-sim.js'), nats.url, 'bench', String(VMS), String(WARMUP_MS + TRANSITIONS * SPACING_MS + 2_000)], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(sim);
    const simResult = new Promise<{ published: number; kvPuts: number; wallMs: number; cpuMs: number }>((resolve, reject) => {
      createInterface({ input: sim.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
      sim.once('exit', (code) => code !== 0 && reject(new Error(`simulator exited with ${code}`)));
    });

    // The SSE client takes the whole stream (every VM), as the dashboard page does.
    const latencies: number[] = [];
    const seen = new Set<number>();
    let sseMessages = 0;
    const ac = new AbortController();
    const res = await fetch(new URL('/events', url), { signal: ac.signal });
    void (async () => {
      const decoder = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buf += decoder.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!frame.startsWith('data: ')) continue;
            sseMessages++;
            const v = JSON.parse(frame.slice(6)) as { vm: string; nodes: Array<{ transitions: Array<{ at: number }> }> };
            if (v.vm !== 'latency') continue;
            const at = v.nodes[0]?.transitions.at(-1)?.at;
            if (at !== undefined && !seen.has(at)) {
              seen.add(at);
              latencies.push(now() - at);
            }
          }
        }
      } catch {
        // aborted at the end
      }
    })();

    await sleep(WARMUP_MS);
    const pub = await connectBus({ servers: [nats.url], name: 'bench-transitions', log: silentLogger() });
    const serveCpu0 = cpuMsOf([serve.pid!]);
    const status0 = statusMsgs;
    const sse0 = sseMessages;
    const t0 = performance.now();
    for (let seq = 1; seq <= TRANSITIONS; seq++) {
      pub.publish(subjects.status('bench-lat', 'latency', 'alpha'), transition(seq, now()));
      await sleep(SPACING_MS);
    }
    await sleep(500);
    const windowS = (performance.now() - t0) / 1000;
    const serveCpuMs = cpuMsOf([serve.pid!]) - serveCpu0;
    const statusRate = (statusMsgs - status0) / windowS;
    const sseRate = (sseMessages - sse0) / windowS;
    const sim1 = await simResult;
    ac.abort();
    await pub.close();
    await watcher.close();

    console.log(`bench:feed  (${VMS} simulated VMs x 2 nodes publishing every 2 s, ${TRANSITIONS} transitions every ${SPACING_MS} ms, loopback)`);
    console.log(`  transition -> SSE client   median ${fmtMs(median(latencies))}  p99 ${fmtMs(percentile(latencies, 99))}  max ${fmtMs(Math.max(...latencies))}  (${latencies.length}/${TRANSITIONS} received; target p99 <= 50 ms)`);
    console.log(`  NATS status messages       ${statusRate.toFixed(0)} msg/s on colo.*.*.status.*  (+ ${(sim1.kvPuts / (sim1.wallMs / 1000)).toFixed(0)} KV puts/s into the status bucket)`);
    console.log(`  status publishing CPU      ${((100 * sim1.cpuMs) / sim1.wallMs).toFixed(1)} % of one core for all ${VMS * 2} node-VM publishers (${(sim1.published / (sim1.wallMs / 1000)).toFixed(0)} publishes/s + KV puts)`);
    console.log(`  colo-ft serve CPU          ${((100 * serveCpuMs) / (windowS * 1000)).toFixed(1)} % of one core, pushing ${sseRate.toFixed(0)} SSE messages/s to one client`);
    if (latencies.length < TRANSITIONS) process.exitCode = 1;
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
