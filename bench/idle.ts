/**
 * npm run bench:idle: what a protected, idle pair costs. Agents, qemu, relays
 * and nats-server, CPU (share of one core) and resident memory over a window
 * (BENCH_IDLE_S, default 60 s) at the default checkpoint rate, each process
 * beside the others. `-- --profile` runs the agents with --cpu-prof and prints
 * where their CPU went (self time by function). BENCH_IDLE_NODE_ARGS (space
 * separated) adds node options to the agents', to measure a flag beside the
 * defaults.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { isKvmUsable } from '../shared/qemu/index.js';
import { sleep } from '../shared/sleep.js';
import { pidsUnder } from '../shared/local/index.js';
import { cpuMsOf, rssMiBOf, wakeupsOf } from './proc.js';
import { awaitLocalPairProtected } from './stats.js';

const WINDOW_MS = Number(process.env.BENCH_IDLE_S ?? 60) * 1000;
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();
const profile = process.argv.includes('--profile');
const extraNodeArgs = (process.env.BENCH_IDLE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

interface Proc {
  name: string;
  pid: number;
}

/** Self time per function in a .cpuprofile from `skipMs` after the process started (the window, not the start-up), idle left out, top `n`. */
function hotSpots(file: string, n: number, skipMs: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as { startTime: number; nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>; samples: number[]; timeDeltas: number[] };
  const byId = new Map(p.nodes.map((x) => [x.id, x.callFrame]));
  const self = new Map<string, number>();
  let total = 0;
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    const us = p.timeDeltas[i] ?? 0;
    at += us;
    const f = byId.get(id)!;
    if (f.functionName === '(idle)' || at - p.startTime < skipMs * 1000) return;
    total += us;
    const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + us);
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'colo-ft-bench-idle-'));
  const profDir = join(dir, 'profiles');
  let skipMs = 0;
  const spawnedAt = Date.now();
  const pair = await startLocalPair({ dir, accelerator: kvm ? 'auto' : 'tcg', nodeArgs: [...extraNodeArgs, ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])] });
  try {
    // The bench asks nothing during the window: only the pair's own traffic is measured.
    await awaitLocalPairProtected(pair, 'bench-idle');
    await sleep(5_000);
    const procs: Proc[] = [
      { name: 'agent alpha', pid: pair.agentPid('alpha') },
      { name: 'agent beta', pid: pair.agentPid('beta') },
      ...pair.pids().filter((p) => p !== pair.agentPid('alpha') && p !== pair.agentPid('beta') && p !== pair.nats.pid).map((pid, i) => ({ name: `qemu ${i + 1}`, pid })),
      ...pidsUnder(dir, (name) => name === 'socat').map((pid, i) => ({ name: `relay ${i + 1}`, pid })),
      { name: 'nats-server', pid: pair.nats.pid },
    ];
    const cpu0 = procs.map((p) => cpuMsOf([p.pid]));
    const wake0 = procs.map((p) => wakeupsOf(p.pid));
    const t0 = Date.now();
    skipMs = t0 - spawnedAt;
    const rssPeak = procs.map(() => 0);
    while (Date.now() - t0 < WINDOW_MS) {
      procs.forEach((p, i) => (rssPeak[i] = Math.max(rssPeak[i]!, rssMiBOf(p.pid))));
      await sleep(1_000);
    }
    const elapsed = Date.now() - t0;
    console.log(`bench:idle (${kvm ? 'KVM' : 'TCG, -machine none'}, a protected idle pair, x-checkpoint-delay 200 ms, TLS on, ${elapsed / 1000} s window${extraNodeArgs.length ? `, agents with ${extraNodeArgs.join(' ')}` : ''})`);
    console.log('| process | CPU (share of one core) | RSS peak | main-thread wake-ups/s |');
    console.log('| --- | --- | --- | --- |');
    procs.forEach((p, i) => {
      const share = (100 * (cpuMsOf([p.pid]) - cpu0[i]!)) / elapsed;
      const wakeups = (1000 * (wakeupsOf(p.pid) - wake0[i]!)) / elapsed;
      console.log(`| ${p.name} (pid ${p.pid}) | ${share.toFixed(2)} % | ${rssPeak[i]!.toFixed(0)} MiB | ${wakeups.toFixed(0)} |`);
    });
  } finally {
    await pair.teardown();
  }
  if (profile) {
    for (const f of readdirSync(profDir).filter((x) => x.endsWith('.cpuprofile'))) {
      console.log(`\nagent profile ${f}: self time over the window, top 25`);
      for (const line of hotSpots(join(profDir, f), 25, skipMs)) console.log(`  ${line}`);
    }
  }
  if (process.env.BENCH_KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}

await main();
