/**
 * npm run bench:restore: for a 1 GiB disk, the whole restore (fresh secondary,
 * drive-mirror resync, switchover, live migration into COLO) and the guest's
 * pause from qemu's STOP/RESUME events, median over N, next to the same QMP
 * restore sequence run directly in the same run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { runDrill } from '../cli/drill/run-drill.js';
import { queryPairStatus } from '../cli/pair-status.js';
import { runRestore } from '../cli/restore/run-restore.js';
import { diskDevice, diskIds } from '../shared/disk/index.js';
import { loadConfig } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus } from '../shared/nats/index.js';
import { natsAuth } from '../cli/connect.js';
import { addReplicationNodes, awaitMirrorReady, linkReplicationNodes, startMigration, startMirror } from '../primary/index.js';
import { awaitColoMode, buildQemuArgs, isKvmUsable, launchVm, qemuImg, resolveAccelerator, resolveMachineType, type VmPlan } from '../shared/qemu/index.js';
import { freePorts } from '../shared/local/index.js';
import { rawProtect } from './raw-colo.js';
import { fmtMs, median, ratio, waitPairProtected } from './stats.js';
import { sleep } from '../shared/sleep.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZE = Number(process.env.BENCH_DISK_MIB ?? 1024) * 1024 * 1024;
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();

async function agentRestore(dir: string): Promise<{ totalMs: number; pauseMs: number; resyncMs: number }> {
  const pair = await startLocalPair({ dir, accelerator: kvm ? 'auto' : 'tcg', diskSizeBytes: SIZE, restore: { auto: false }, fillByte: 0x5c });
  try {
    const config = loadConfig(pair.configPath);
    const bus = await connectBus({ ...natsAuth(config), name: 'bench-restore', log: silentLogger() });
    try {
      await waitPairProtected(() => queryPairStatus(bus, config, 1_000), 120_000);
      const drill = await runDrill(bus, config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
      if (!drill.ok) throw new Error(`drill failed: ${drill.reason}`);
      const r = await runRestore(bus, config, { vm: 'vm1', timeoutMs: 300_000 });
      if (!r.protected || r.totalMs === null || r.pauseMs === null || r.resyncMs === null) throw new Error(`restore failed: ${r.reason}`);
      return { totalMs: r.totalMs, pauseMs: r.pauseMs, resyncMs: r.resyncMs };
    } finally {
      await bus.close();
    }
  } finally {
    await pair.teardown();
  }
}

/** The same restore by hand: fresh secondary, mirror, then stop, complete, link and migrate into COLO with the guest stopped. */
async function rawRestore(dir: string): Promise<{ totalMs: number; pauseMs: number; resyncMs: number }> {
  const { pair } = await rawProtect(join(dir, 'pair'), kvm, SIZE, 200, 0x5c);
  const log = silentLogger();
  const call = { timeoutMs: 30_000 };
  // Fail the primary: the old secondary takes over.
  process.kill(pair.primary.proc.pid, 'SIGKILL');
  const s = pair.secondary.qmp;
  await s.execute('nbd-server-stop', undefined, call);
  await s.execute('x-colo-lost-heartbeat', undefined, call);
  while (((await s.execute('query-colo-status', undefined, call)) as { mode: string }).mode !== 'none') await sleep(2);
  const [mig, nbd] = await freePorts(2);
  const fresh = join(dir, 'fresh');
  mkdirSync(fresh, { recursive: true });
  const accel = resolveAccelerator('auto', kvm);
  const m = resolveMachineType('auto', accel, 0);
  const img = qemuImg();
  const t0 = performance.now();
  await img.create(join(fresh, 'disk0.img'), 'raw', SIZE);
  await img.create(join(fresh, 'active0.qcow2'), 'qcow2', SIZE);
  await img.create(join(fresh, 'hidden0.qcow2'), 'qcow2', SIZE);
  const disk0 = diskDevice({
    index: 0, ids: diskIds(0), layout: 'secondary', imagePath: join(fresh, 'disk0.img'), activePath: join(fresh, 'active0.qcow2'), hiddenPath: join(fresh, 'hidden0.qcow2'), exportName: 'd0', guestDevice: 'none', canary: false,
    disk: { target: 'disk0.img', format: 'raw', access: 'rw', backendType: 'qdisk', colo: true },
  });
  const plan = {
    vm: 'raw', node: 'fresh', role: 'secondary', accel, runDir: fresh, qmpSocket: join(fresh, 'qmp.sock'), oobQmpSocket: join(fresh, 'oob.sock'), pidFile: join(fresh, 'qemu.pid'),
    devices: [disk0], disks: [disk0.plan],
    migrationUri: `tcp:127.0.0.1:${mig}`, nbd: { host: '127.0.0.1', port: nbd! }, checkpointDelayMs: 200, args: [] as string[],
  } as unknown as VmPlan;
  plan.args = buildQemuArgs({ name: 'raw-fresh', accel, machineType: m.machineType, vcpus: m.vcpus, memoryMiB: 64, qmpSocket: plan.qmpSocket, oobQmpSocket: plan.oobQmpSocket, pidFile: plan.pidFile, incoming: plan.migrationUri, deviceArgs: [disk0.argv()] });
  const newSec = await launchVm({ binary: 'qemu-system-x86_64', plan, qmpTimeoutMs: 10_000, log });
  try {
    await newSec.qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: '127.0.0.1', port: String(nbd) } } }, call);
    await newSec.qmp.execute('nbd-server-add', { device: 'parent0', name: 'd0', writable: true }, call);
    await newSec.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] }, call);
    const peer = { node: 'fresh', migrationUri: plan.migrationUri, nbd: plan.nbd!, disks: [{ index: 0, exportName: 'd0', sizeBytes: SIZE }] };
    const survivorPlan = { ...plan, role: 'primary' } as VmPlan;
    const tResync = performance.now();
    await startMirror(s, survivorPlan, peer, 0, call);
    await awaitMirrorReady(s, survivorPlan, () => undefined, { ...call, pollMs: 20 });
    const resyncMs = performance.now() - tResync;
    await addReplicationNodes(s, survivorPlan, peer, call);
    let stopAt = 0;
    let resumeAt = 0;
    const off = s.onEvent((e) => {
      const t = e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
      if (e.event === 'STOP' && !stopAt) stopAt = t;
      if (e.event === 'RESUME' && stopAt && !resumeAt) resumeAt = t;
    });
    await s.execute('stop', undefined, call);
    await s.execute('block-job-cancel', { device: 'resync0' }, call);
    while (((await s.execute('query-block-jobs', undefined, call)) as unknown[]).length) await sleep(1);
    await linkReplicationNodes(s, survivorPlan, call);
    // The safe order (as colo-ft's): the guest stays stopped until COLO has started replication and resumes it.
    await startMigration(s, survivorPlan, peer, call);
    await awaitColoMode(s, 'primary', { ...call, pollMs: 2, untilRunning: true });
    off();
    return { totalMs: performance.now() - t0, pauseMs: resumeAt - stopAt, resyncMs };
  } finally {
    await newSec.stop(500);
    await pair.stop();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'colo-ft-bench-restore-'));
  console.log(`bench:restore  ${RUNS} runs each, ${SIZE / 1024 / 1024} MiB disk filled with data, 64 MiB RAM, accelerator ${kvm ? 'kvm' : 'tcg (-machine none)'}, agents as separate processes`);
  const agent: Array<{ totalMs: number; pauseMs: number; resyncMs: number }> = [];
  const raw: Array<{ totalMs: number; pauseMs: number; resyncMs: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    raw.push(await rawRestore(join(root, `raw-${i}`)));
    agent.push(await agentRestore(join(root, `agent-${i}`)));
    const a = agent[i]!;
    const r = raw[i]!;
    console.log(`  run ${i + 1}: colo-ft total ${fmtMs(a.totalMs)} (resync ${fmtMs(a.resyncMs)}, pause ${fmtMs(a.pauseMs)}) | raw total ${fmtMs(r.totalMs)} (resync ${fmtMs(r.resyncMs)}, pause ${fmtMs(r.pauseMs)})`);
    rmSync(join(root, `raw-${i}`), { recursive: true, force: true });
    rmSync(join(root, `agent-${i}`), { recursive: true, force: true });
  }
  const at = median(agent.map((x) => x.totalMs));
  const rt = median(raw.map((x) => x.totalMs));
  const ap = median(agent.map((x) => x.pauseMs));
  const rp = median(raw.map((x) => x.pauseMs));
  console.log('');
  console.log(`  total restore   colo-ft ${fmtMs(at)}  raw QMP ${fmtMs(rt)}  ratio ${ratio(at, rt)}  (target <= 1.15x)`);
  console.log(`  guest pause     colo-ft ${fmtMs(ap)}  raw QMP ${fmtMs(rp)}  (STOP -> RESUME events; target <= 50 ms)`);
  rmSync(root, { recursive: true, force: true });
}

await main();
