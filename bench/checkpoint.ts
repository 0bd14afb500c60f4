/**
 * npm run bench:checkpoint: the guest's pause per checkpoint, one run, side by
 * side on the same machine: colo-ft with the no-delay relay (the default) and
 * with qemu's own TCP socket, next to the raw floors issued over QMP directly
 * (stock tcp:, and a same-host unix socket, the best any channel can do), for
 * an idle VM and under disk write load. Each: pause p50/p99, checkpoints/s,
 * paused share of wall time, and the CPU the agents and relays used.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { cpuMsOf, pidsNamed } from './proc.js';
import { queryPairStatus } from '../cli/pair-status.js';
import { loadConfig } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { commandReplySchema, connectBus, subjects, type Bus } from '../shared/nats/index.js';
import { natsAuth } from '../cli/connect.js';
import { isKvmUsable, type VmInstance } from '../shared/qemu/index.js';
import { sleep } from '../shared/sleep.js';
import { rawProtect } from './raw-colo.js';
import { fmtMs, percentile, waitPairProtected } from './stats.js';

const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 8_000);
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();
const accelerator = kvm ? 'auto' : 'tcg';
const MiB = 1024 * 1024;

interface Row {
  channel: string;
  load: 'idle' | 'writes';
  pauses: number[];
  windowMs: number;
  cpuMs: number | null;
}

/** A write loop standing in for a busy guest: 64 KiB at a time, until stopped. */
function writeLoop(write: (offset: number) => Promise<unknown>): () => Promise<void> {
  let stop = false;
  const done = (async () => {
    for (let i = 0; !stop; i++) await write((i % 256) * 65_536 + 4 * MiB).catch(() => sleep(10));
  })();
  return async () => {
    stop = true;
    await done;
  };
}

/** Raw floor: pauses from the primary's own STOP/RESUME events over one window. */
async function rawRows(dir: string, channel: 'tcp' | 'unix'): Promise<Row[]> {
  const { pair } = await rawProtect(join(dir, `raw-${channel}`), kvm, 64 * MiB, 200, undefined, undefined, channel);
  try {
    const rows: Row[] = [];
    for (const load of ['idle', 'writes'] as const) {
      if (process.env.BENCH_DEBUG) console.error(`raw ${channel} ${load}`);
      const pauses = await pausesOver(pair.primary, async () => {
        if (load === 'idle') return sleep(WINDOW_MS);
        const stop = writeLoop((off) => pair.primary.qmp.hmp(`qemu-io colo-disk0 "write -P 0x5a ${off} 64k"`, { timeoutMs: 5_000 }));
        await sleep(WINDOW_MS);
        await stop();
      });
      rows.push({ channel: `raw ${channel === 'tcp' ? 'tcp: (stock)' : 'unix (same host, floor)'}`, load, pauses, windowMs: WINDOW_MS, cpuMs: null });
    }
    return rows;
  } finally {
    await pair.stop();
  }
}

async function pausesOver(vm: VmInstance, during: () => Promise<void>): Promise<number[]> {
  const pauses: number[] = [];
  let stoppedAt: number | null = null;
  const ms = (e: { timestamp: { seconds: number; microseconds: number } }) => e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
  const off = vm.qmp.onEvent((e) => {
    if (e.event === 'STOP') stoppedAt = ms(e);
    if (e.event === 'RESUME' && stoppedAt !== null) {
      pauses.push(ms(e) - stoppedAt);
      stoppedAt = null;
    }
  });
  await during();
  off();
  return pauses;
}

/** colo-ft: pauses as the primary's status carries them (qemu's event times), over one window. */
async function agentRows(dir: string, channel: 'relay' | 'tcp', tls: 'on' | 'off'): Promise<Row[]> {
  const pair = await startLocalPair({ dir: join(dir, `agents-${channel}-tls-${tls}`), accelerator, vmExtra: { migrationChannel: channel }, tls });
  const config = loadConfig(pair.configPath);
  const bus: Bus = await connectBus({ ...natsAuth(config), name: 'bench', log: silentLogger() });
  try {
    await waitPairProtected(() => queryPairStatus(bus, config, 1_000), 60_000);
    await sleep(1_000);
    const rows: Row[] = [];
    for (const load of ['idle', 'writes'] as const) {
      const cpuPids = () => [pair.agentPid('alpha'), pair.agentPid('beta'), ...pidsNamed('socat')];
      const cpu0 = cpuMsOf(cpuPids());
      const t0 = Date.now();
      let stop = async (): Promise<void> => undefined;
      if (load === 'writes') {
        stop = writeLoop((offset) => bus.request(subjects.rpc(config.pair, 'vm1', 'alpha', 'command'), { op: 'write-pattern', byte: 0x5a, offset, length: 65_536, awaitCheckpoint: false, disk: 0 }, commandReplySchema, { timeoutMs: 5_000 }));
      }
      await sleep(WINDOW_MS);
      await stop();
      const t1 = Date.now();
      const cpu1 = cpuMsOf(cpuPids());
      const status = await queryPairStatus(bus, config, 2_000);
      const carried = status.vms[0]!.checkpoints.recentPauses.filter((p) => p.at >= t0 && p.at <= t1).map((p) => p.ms);
      const name = channel === 'tcp' ? 'tcp: (TLS off)' : tls === 'on' ? 'relay + mutual TLS (default)' : 'relay, TLS off';
      rows.push({ channel: `colo-ft ${name}`, load, pauses: carried, windowMs: t1 - t0, cpuMs: cpu1 - cpu0 });
    }
    return rows;
  } finally {
    await bus.close();
    await pair.teardown();
  }
}

function printRow(r: Row): void {
  const n = r.pauses.length;
  const sum = r.pauses.reduce((a, b) => a + b, 0);
  const p50 = n ? fmtMs(percentile(r.pauses, 50)) : '-';
  const p99 = n ? fmtMs(percentile(r.pauses, 99)) : '-';
  const cpu = r.cpuMs === null ? '-' : `${((100 * r.cpuMs) / r.windowMs).toFixed(1)} %`;
  console.log(
    `| ${r.channel} | ${r.load} | ${p50} | ${p99} | ${((n * 1000) / r.windowMs).toFixed(2)} | ${((100 * sum) / r.windowMs).toFixed(1)} % | ${cpu} |`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'colo-ft-bench-checkpoint-'));
  // The QMP clients' timers do not hold the process: a call in flight at the end of a window must.
  const alive = setInterval(() => undefined, 1_000);
  try {
    console.log(`bench:checkpoint (${kvm ? 'KVM' : 'TCG'}, -machine none, 64 MiB, x-checkpoint-delay 200 ms, ${WINDOW_MS / 1000} s windows; at most 50 checkpoints carried per agent status)`);
    console.log('| channel | load | pause p50 | pause p99 | checkpoints/s | guest stopped | agents + relays CPU |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    const runs = [() => rawRows(dir, 'tcp'), () => rawRows(dir, 'unix'), () => agentRows(dir, 'tcp', 'off'), () => agentRows(dir, 'relay', 'off'), () => agentRows(dir, 'relay', 'on')];
    for (const run of runs) (await run()).forEach(printRow);
  } finally {
    clearInterval(alive);
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
