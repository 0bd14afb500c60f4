import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildDriveArgs, buildReplicationDriveAdd } from '../shared/disk/index.js';
import { silentLogger } from '../shared/log.js';
import { freePorts } from '../shared/local/index.js';
import { buildQemuArgs, launchVm, qemuImg, resolveAccelerator, resolveMachineType, awaitColoMode, type VmInstance, type VmPlan } from '../shared/qemu/index.js';

/**
 * The raw floor: colo-procedure.md's Protect sequence issued directly over QMP,
 * no NATS, no machines, no agents. Same qemu, same drives, same checkpoint delay.
 */
export interface RawPair {
  primary: VmInstance;
  secondary: VmInstance;
  migrationUri: string;
  nbd: { host: string; port: number };
  stop(): Promise<void>;
}

/** A real guest for the raw floor: the tiny Linux guest's kernel and initrd, on a pc machine with one vCPU. */
export interface RawGuest {
  kernel: string;
  initrd: string;
  append: string;
}

function rawPlan(dir: string, role: 'primary' | 'secondary', kvm: boolean, migrationUri: string, nbdPort: number, guest?: RawGuest): VmPlan {
  const accel = resolveAccelerator('auto', kvm);
  const m = guest ? { machineType: 'pc', vcpus: 1 } : resolveMachineType('auto', accel, 0);
  const runDir = join(dir, role);
  mkdirSync(runDir, { recursive: true });
  const image = join(runDir, 'disk0.img');
  const drives = buildDriveArgs({ index: 0, layout: role, imagePath: image, format: 'raw', activePath: join(runDir, 'active0.qcow2'), hiddenPath: join(runDir, 'hidden0.qcow2') });
  const plan = {
    vm: 'raw',
    node: role,
    role,
    accel,
    runDir,
    qmpSocket: join(runDir, 'qmp.sock'),
    oobQmpSocket: join(runDir, 'qmp-oob.sock'),
    pidFile: join(runDir, 'qemu.pid'),
    consoleLog: guest ? join(runDir, 'console.log') : null,
    devices: [],
    disks: [],
    migrationUri,
    relay: null,
    tls: null,
    nbd: { host: '127.0.0.1', port: nbdPort },
    checkpointDelayMs: 200,
    assumeIdentical: true,
  };
  return {
    ...plan,
    args: buildQemuArgs({
      ...{ name: `raw-${role}`, accel, machineType: m.machineType, vcpus: m.vcpus, memoryMiB: guest ? 128 : 64, qmpSocket: plan.qmpSocket, oobQmpSocket: plan.oobQmpSocket, pidFile: plan.pidFile },
      deviceArgs: guest ? [drives, ['-device', 'virtio-blk-pci,drive=colo-disk0']] : [drives],
      guestArgs: guest
        ? ['-kernel', guest.kernel, '-initrd', guest.initrd, '-append', guest.append, '-chardev', `file,id=con0,path=${join(runDir, 'console.log')}`, '-serial', 'chardev:con0']
        : [],
      incoming: role === 'secondary' ? migrationUri : undefined,
    }),
  };
}

export interface RawTimings {
  startToColoMs: number;
  migrateToColoMs: number;
}

/** Launch both qemu, prepare disks, run the Protect sequence; times from launch and from `migrate`. */
export async function rawProtect(
  dir: string,
  kvm: boolean,
  sizeBytes: number,
  checkpointDelayMs = 200,
  fillByte?: number,
  /** With a guest: protection starts (and its clock) once `booted` resolves for the running primary. */
  g?: { guest: RawGuest; booted(consoleLog: string): Promise<void> },
  /** `unix`: a same-host unix socket, the floor no channel between hosts can beat. */
  channel: 'tcp' | 'unix' = 'tcp',
): Promise<{ pair: RawPair; timings: RawTimings }> {
  const [migPort, nbdPort] = await freePorts(2);
  mkdirSync(dir, { recursive: true });
  const migrationUri = channel === 'tcp' ? `tcp:127.0.0.1:${migPort}` : `unix:${join(dir, 'migration.sock')}`;
  const img = qemuImg();
  const pPlan = rawPlan(dir, 'primary', kvm, migrationUri, nbdPort!, g?.guest);
  const sPlan = rawPlan(dir, 'secondary', kvm, migrationUri, nbdPort!, g?.guest);
  await img.create(join(pPlan.runDir, 'disk0.img'), 'raw', sizeBytes);
  await img.create(join(sPlan.runDir, 'disk0.img'), 'raw', sizeBytes);
  if (fillByte !== undefined) {
    for (const p of [pPlan, sPlan]) execFileSync('qemu-io', ['-f', 'raw', '-c', `write -P ${fillByte} 0 ${sizeBytes}`, join(p.runDir, 'disk0.img')], { stdio: 'ignore' });
  }
  const log = silentLogger();
  const call = { timeoutMs: 10_000 };
  let t0 = performance.now();
  await img.create(join(sPlan.runDir, 'active0.qcow2'), 'qcow2', sizeBytes);
  await img.create(join(sPlan.runDir, 'hidden0.qcow2'), 'qcow2', sizeBytes);
  const [secondary, primary] = await Promise.all([
    launchVm({ binary: 'qemu-system-x86_64', plan: sPlan, qmpTimeoutMs: 10_000, log }),
    launchVm({ binary: 'qemu-system-x86_64', plan: pPlan, qmpTimeoutMs: 10_000, log }),
  ]);
  const s = secondary.qmp;
  const p = primary.qmp;
  if (g) {
    await g.booted(pPlan.consoleLog!);
    t0 = performance.now();
  }
  await s.execute('nbd-server-start', { addr: { type: 'inet', data: { host: '127.0.0.1', port: String(nbdPort) } } }, call);
  await s.execute('nbd-server-add', { device: 'parent0', name: 'd0', writable: true }, call);
  await s.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] }, call);
  await p.hmp(buildReplicationDriveAdd({ index: 0, host: '127.0.0.1', port: nbdPort!, exportName: 'd0' }), call);
  await p.execute('x-blockdev-change', { parent: 'colo-disk0', node: 'replication0' }, call);
  await p.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }, { capability: 'events', state: true }] }, call);
  await p.execute('migrate-set-parameters', { 'x-checkpoint-delay': checkpointDelayMs }, call);
  const tMigrate = performance.now();
  await p.execute('migrate', { uri: migrationUri }, call);
  await Promise.all([awaitColoMode(p, 'primary', { ...call, pollMs: 2 }), awaitColoMode(s, 'secondary', { ...call, pollMs: 2 })]);
  const tColo = performance.now();
  return {
    pair: {
      primary,
      secondary,
      migrationUri,
      nbd: { host: '127.0.0.1', port: nbdPort! },
      stop: async () => {
        await Promise.all([primary.stop(500), secondary.stop(500)]);
      },
    },
    timings: { startToColoMs: tColo - t0, migrateToColoMs: tColo - tMigrate },
  };
}
