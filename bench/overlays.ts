/**
 * npm run bench:overlays: does the overlay format make the secondary's qcow2 abort likelier?
 * One-MiB writes on the primary of a raw qemu COLO pair, each followed by a checkpoint,
 * with the secondary's active and hidden overlays created as qcow2 v3 (qemu-img's default)
 * and as v2 (compat=0.10, what colo-ft creates). Counts secondaries that died and why.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OVERLAY_OPTIONS } from '../secondary/index.js';
import { buildDriveArgs, buildReplicationDriveAdd } from '../shared/disk/index.js';
import { freePorts } from '../shared/local/index.js';
import { silentLogger } from '../shared/log.js';
import { awaitColoMode, buildQemuArgs, isKvmUsable, launchVm, resolveAccelerator, resolveMachineType, type VmPlan } from '../shared/qemu/index.js';
import { sleep } from '../shared/sleep.js';

const SIZE = 64 * 1024 * 1024;
const WRITES = Number(process.env.BENCH_WRITES ?? 150);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();
const call = { timeoutMs: 10_000 };

function plan(dir: string, role: 'primary' | 'secondary', mig: number, nbd: number): VmPlan {
  const accel = resolveAccelerator('auto', kvm);
  const m = resolveMachineType('auto', accel, 0);
  const runDir = join(dir, role);
  mkdirSync(runDir, { recursive: true });
  const drives = buildDriveArgs({ index: 0, layout: role, imagePath: join(runDir, 'disk0.img'), format: 'raw', activePath: join(runDir, 'a.qcow2'), hiddenPath: join(runDir, 'h.qcow2') });
  const p = { vm: 'ovl', node: role, role, accel, runDir, qmpSocket: join(runDir, 'q.sock'), oobQmpSocket: join(runDir, 'o.sock'), pidFile: join(runDir, 'pid'), consoleLog: null, devices: [], disks: [], migrationUri: `tcp:127.0.0.1:${mig}`, relay: null, tls: null, nbd: { host: '127.0.0.1', port: nbd }, checkpointDelayMs: 200, assumeIdentical: true };
  return { ...p, args: buildQemuArgs({ name: `ovl-${role}`, accel, machineType: m.machineType, vcpus: m.vcpus, memoryMiB: 64, qmpSocket: p.qmpSocket, oobQmpSocket: p.oobQmpSocket, pidFile: p.pidFile, deviceArgs: [drives], incoming: role === 'secondary' ? p.migrationUri : undefined }) };
}

async function onePair(dir: string, overlayOptions: string[]): Promise<{ writes: number; died: string | null }> {
  const [mig, nbd] = await freePorts(2);
  const P = plan(dir, 'primary', mig!, nbd!);
  const S = plan(dir, 'secondary', mig!, nbd!);
  for (const p of [P, S]) execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(p.runDir, 'disk0.img'), String(SIZE)]);
  for (const f of ['a.qcow2', 'h.qcow2']) execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', ...overlayOptions, join(S.runDir, f), String(SIZE)]);
  const log = silentLogger();
  const [s, p] = await Promise.all([launchVm({ binary: 'qemu-system-x86_64', plan: S, qmpTimeoutMs: 10_000, log }), launchVm({ binary: 'qemu-system-x86_64', plan: P, qmpTimeoutMs: 10_000, log })]);
  try {
    await s.qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: '127.0.0.1', port: String(nbd) } } }, call);
    await s.qmp.execute('nbd-server-add', { device: 'parent0', name: 'd0', writable: true }, call);
    await s.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] }, call);
    await p.qmp.hmp(buildReplicationDriveAdd({ index: 0, host: '127.0.0.1', port: nbd!, exportName: 'd0' }), call);
    await p.qmp.execute('stop', undefined, call);
    await p.qmp.execute('x-blockdev-change', { parent: 'colo-disk0', node: 'replication0' }, call);
    await p.qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] }, call);
    await p.qmp.execute('migrate-set-parameters', { 'x-checkpoint-delay': 200 }, call);
    await p.qmp.execute('migrate', { uri: S.migrationUri }, call);
    await awaitColoMode(p.qmp, 'primary', { ...call, pollMs: 2, untilRunning: true });
    for (let i = 0; i < WRITES; i++) {
      const offset = Math.floor(Math.random() * 60) * 1024 * 1024;
      await p.qmp.hmp(`qemu-io colo-disk0 "write -P ${1 + (i % 250)} ${offset} 1M"`, call).catch(() => undefined);
      await sleep(300);
      if (!s.proc.isRunning) return { writes: i + 1, died: s.proc.outputTail().slice(-1)[0] ?? 'no output' };
    }
    return { writes: WRITES, died: null };
  } finally {
    await Promise.all([p.stop(500), s.stop(500)]);
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'colo-ft-bench-overlays-'));
  console.log(`bench:overlays  ${PAIRS} pairs x up to ${WRITES} one-MiB writes per overlay format, a checkpoint after each, accelerator ${kvm ? 'kvm' : 'tcg (-machine none)'}`);
  try {
    for (const [label, options] of [['qcow2 v3 (qemu-img default)', []], [`qcow2 v2 (${OVERLAY_OPTIONS}, colo-ft)`, ['-o', OVERLAY_OPTIONS]]] as const) {
      let writes = 0;
      const deaths: string[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const r = await onePair(join(root, `${options.length}-${i}`), [...options]);
        writes += r.writes;
        if (r.died) deaths.push(r.died);
      }
      console.log(`  ${label}: ${deaths.length} secondary aborts in ${writes} writes${deaths.length ? ` (${[...new Set(deaths)].join(' | ')})` : ''}`);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
