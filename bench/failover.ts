/**
 * npm run bench:failover: crash (kill -9) and silent loss (SIGSTOP) drills on a
 * real pair of agent processes, median and p99 from the fault to the survivor
 * running alone with the new epoch, next to the raw QMP failover sequence
 * issued directly in the same run; then an idle pair watched for false failovers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { runDrill, type DrillReport } from '../cli/drill/run-drill.js';
import { queryPairStatus } from '../cli/pair-status.js';
import { loadConfig } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus } from '../shared/nats/index.js';
import { natsAuth } from '../cli/connect.js';
import { isKvmUsable } from '../shared/qemu/index.js';
import { queryColoStatus } from '../shared/qmp/index.js';
import { natsRestartOnce, type NatsRestartResult } from './nats-restart.js';
import { printGuestBench } from './guest.js';
import { rawProtect, type RawPair } from './raw-colo.js';
import { PATTERN_LENGTH, PATTERN_OFFSET } from '../cli/drill/run-drill.js';
import { fmtMs, median, percentile, ratio, waitPairProtected } from './stats.js';
import { sleep } from '../shared/sleep.js';

const N = Number(process.env.BENCH_DRILLS ?? 10);
const IDLE_MS = Number(process.env.BENCH_IDLE_MINUTES ?? 10) * 60_000;
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();
const accelerator = kvm ? 'auto' : 'tcg';
/** rawProtect's checkpoint delay, the demo pair's default. */
const RAW_CHECKPOINT_DELAY_MS = 200;

type Side = 'primary' | 'secondary';

async function drillOnce(dir: string, mode: 'crash' | 'hang', fail: Side): Promise<DrillReport> {
  const pair = await startLocalPair({ dir, accelerator });
  try {
    const config = loadConfig(pair.configPath);
    const bus = await connectBus({ ...natsAuth(config), name: 'bench', log: silentLogger() });
    try {
      await waitPairProtected(() => queryPairStatus(bus, config, 1_000), 60_000);
      return await runDrill(bus, config, { vm: 'vm1', fail, mode });
    } finally {
      await bus.close();
    }
  } finally {
    await pair.teardown();
  }
}

/**
 * colo-procedure.md's failover issued by hand, at the first moment qemu or the
 * kernel tells. Primary lost: nbd-server-stop and x-colo-lost-heartbeat on the
 * secondary as soon as COLO_EXIT arrives. Secondary lost: the primary's qemu
 * only notices at its next checkpoint (up to a checkpoint delay later), so the
 * floor starts the moment the secondary qemu has exited: yank, drop the
 * replication child, drive_del and x-colo-lost-heartbeat on the primary.
 */
async function rawFailover(dir: string, mode: 'crash' | 'hang', fail: Side = 'primary'): Promise<number> {
  if (fail === 'secondary') return rawCarryOn(dir, mode);
  const { pair } = await rawProtect(dir, kvm, 64 * 1024 * 1024);
  try {
    await sleep(500);
    await writeLikeTheDrill(pair);
    const s = pair.secondary.qmp;
    const exited = new Promise<void>((resolve) => {
      const off = s.onEvent((e) => {
        if (e.event === 'COLO_EXIT') {
          off();
          resolve();
        }
      });
    });
    const t0 = performance.now();
    process.kill(pair.primary.proc.pid, mode === 'crash' ? 'SIGKILL' : 'SIGSTOP');
    // A frozen primary closes nothing: by hand, the operator acts on the decision alone.
    if (mode === 'crash') await exited;
    await s.execute('nbd-server-stop', undefined, { timeoutMs: 5_000 });
    await s.execute('x-colo-lost-heartbeat', undefined, { timeoutMs: 5_000 });
    while ((await queryColoStatus(s, { timeoutMs: 5_000 })).mode !== 'none') await sleep(1);
    const t = performance.now() - t0;
    if (mode === 'hang') process.kill(pair.primary.proc.pid, 'SIGKILL');
    return t;
  } finally {
    await pair.stop();
  }
}

/**
 * The drill writes a pattern through the primary and waits for a checkpoint to
 * cover it before the fault; the floor does the same, so both fail over the
 * same state (a fresh write makes qemu's exit and the secondary's failover slower).
 */
async function writeLikeTheDrill(pair: RawPair): Promise<void> {
  await pair.primary.qmp.hmp(`qemu-io colo-disk0 "write -P 0x55 ${PATTERN_OFFSET} ${PATTERN_LENGTH}"`, { timeoutMs: 5_000 });
  // Two checkpoint delays: one checkpoint that started after the write has completed.
  await sleep(2 * RAW_CHECKPOINT_DELAY_MS + 50);
}

async function rawCarryOn(dir: string, mode: 'crash' | 'hang'): Promise<number> {
  const { pair } = await rawProtect(dir, kvm, 64 * 1024 * 1024);
  try {
    await sleep(500);
    await writeLikeTheDrill(pair);
    const p = pair.primary.qmp;
    const call = { timeoutMs: 5_000 };
    const t0 = performance.now();
    process.kill(pair.secondary.proc.pid, mode === 'crash' ? 'SIGKILL' : 'SIGSTOP');
    if (mode === 'crash') await pair.secondary.proc.exited;
    await pair.primary.oob.executeOob('yank', { instances: [{ type: 'block-node', 'node-name': 'replication0' }] }).catch(() => undefined);
    await pair.primary.oob.executeOob('yank', { instances: [{ type: 'migration' }] }).catch(() => undefined);
    await p.execute('x-blockdev-change', { parent: 'colo-disk0', child: 'children.1' }, call);
    await p.hmp('drive_del replication0', call);
    if ((await queryColoStatus(p, call)).mode !== 'none') await p.execute('x-colo-lost-heartbeat', undefined, call);
    while ((await queryColoStatus(p, call)).mode !== 'none') await sleep(1);
    const t = performance.now() - t0;
    if (mode === 'hang') process.kill(pair.secondary.proc.pid, 'SIGKILL');
    return t;
  } finally {
    await pair.stop();
  }
}

/** The survivor's steps after the lease, as it timed them; steps cut during the claim are not among them. */
function fmtSteps(steps: Record<string, number> | null): string {
  return steps ? Object.entries(steps).map(([k, v]) => `${k} ${v}`).join(', ') : 'no step timings';
}

async function idleRun(dir: string): Promise<{ failovers: number; minutes: number }> {
  const pair = await startLocalPair({ dir, accelerator });
  try {
    const config = loadConfig(pair.configPath);
    const bus = await connectBus({ ...natsAuth(config), name: 'bench-idle', log: silentLogger() });
    try {
      let protectedOnce = false;
      let failovers = 0;
      const started = Date.now();
      while (Date.now() - started < IDLE_MS + 60_000) {
        const vm = (await queryPairStatus(bus, config, 2_000)).vms[0];
        if (vm?.protected && !protectedOnce) protectedOnce = true;
        if (protectedOnce && vm && vm.epoch > 1) failovers = vm.epoch - 1;
        if (protectedOnce && Date.now() - started >= IDLE_MS) break;
        await sleep(1_000);
      }
      return { failovers, minutes: (Date.now() - started) / 60_000 };
    } finally {
      await bus.close();
    }
  } finally {
    await pair.teardown();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'colo-ft-bench-failover-'));
  if (process.argv.includes('--guest')) {
    await printGuestBench('failover', root, Number(process.env.BENCH_RUNS ?? 5));
    rmSync(root, { recursive: true, force: true });
    return;
  }
  console.log(`bench:failover  ${N} drills per mode, agents as separate processes, accelerator ${kvm ? 'kvm' : 'tcg (-machine none)'}, default timings`);
  console.log('  raw floor: the same fault on a pair protected by hand, with the drill\'s pattern written and checkpointed first, failed over by hand at the first moment qemu tells');
  const modes = (process.env.BENCH_MODES ?? 'crash,hang').split(',') as Array<'crash' | 'hang'>;
  const sides = (process.env.BENCH_SIDES ?? 'primary,secondary').split(',') as Side[];
  for (const fail of sides) {
    for (const mode of modes) {
      const agent: number[] = [];
      const raw: number[] = [];
      let failures = 0;
      for (let i = 0; i < N; i++) {
        raw.push(await rawFailover(join(root, `raw-${fail}-${mode}-${i}`), mode, fail));
        const r = await drillOnce(join(root, `drill-${fail}-${mode}-${i}`), mode, fail);
        if (!r.ok || r.takeoverMs === null) {
          failures++;
          console.log(`  ${fail} ${mode} ${i + 1}: FAILED ${r.reason}`);
          continue;
        }
        agent.push(r.takeoverMs);
        console.log(`  ${fail} ${mode} ${i + 1}: detected ${r.detectedMs} ms, lease won ${r.leaseWonMs} ms, takeover ${r.takeoverMs} ms (${fmtSteps(r.takeoverStepsMs)}), epoch ${r.epochBefore}->${r.epochAfter}, data ${r.dataVerified ? 'ok' : 'BAD'} | raw ${fmtMs(raw[i]!)}`);
      }
      const label = `${mode === 'crash' ? 'crash (kill -9' : 'silent loss (SIGSTOP'} ${fail})`;
      console.log(`  ${label}: colo-ft median ${fmtMs(median(agent))}, p99 ${fmtMs(percentile(agent, 99))} | raw QMP floor median ${fmtMs(median(raw))}, p99 ${fmtMs(percentile(raw, 99))} | median ratio ${ratio(median(agent), median(raw))}, p99 ratio ${ratio(percentile(agent, 99), percentile(raw, 99))}${failures ? ` | ${failures} failed drills` : ''}`);
    }
  }
  const natsRuns = Number(process.env.BENCH_NATS_RUNS ?? 10);
  if (natsRuns > 0) {
    const rows: NatsRestartResult[] = [];
    for (let i = 0; i < natsRuns; i++) {
      const r = await natsRestartOnce(join(root, `nats-${i}`), accelerator, 3_000);
      rows.push(r);
      console.log(`  NATS restart ${i + 1} (kill -9, 3 s down): failovers ${r.failovers}, fences ${r.fences}, checkpoints missing ${r.checkpointsMissing}, longest pause ${fmtMs(r.longestPauseMs)}`);
    }
    const sum = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0);
    console.log(`  NATS restart during COLO (${natsRuns} runs, 3 s down): failovers ${sum((r) => r.failovers)} (goal 0), fences ${sum((r) => r.fences)}, checkpoints missing ${sum((r) => r.checkpointsMissing)}, longest pause the guest saw ${fmtMs(Math.max(...rows.map((r) => r.longestPauseMs)))}`);
  }
  if (IDLE_MS > 0) {
    console.log(`  idle run: watching a protected pair for ${IDLE_MS / 60_000} minutes...`);
    const idle = await idleRun(join(root, 'idle'));
    console.log(`  idle run: ${idle.failovers} false failovers in ${idle.minutes.toFixed(1)} minutes`);
  }
  rmSync(root, { recursive: true, force: true });
}

await main();
