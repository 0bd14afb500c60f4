import { isAbsolute, join } from 'node:path';
import type { Config, NodeConfig, VmConfig } from '../config/index.js';
import { nbdPortOf } from '../config/index.js';
import { isDiskDevice, type DiskPlan, type StartKind } from '../disk/index.js';
import { deviceArgv, planDevices, type GuestDevice } from '../device/index.js';
import { ConfigError } from '../errors.js';
import { compareTraceArgs, isNicDevice } from '../nic/index.js';
import { relayPlan, type RelayPlan } from '../relay/index.js';
import { tlsObjectArgs, tlsPlanOf, type TlsPlan } from '../tls/index.js';
import { buildGuestArgs, consoleLogPath } from './guest-args.js';
import { buildQemuArgs, resolveAccelerator, resolveMachineType, type Accelerator } from './qemu-args.js';

export type { DiskPlan };

/** Everything one node needs to run one VM in one role: pure, derived from the config. */
export interface VmPlan {
  vm: string;
  node: string;
  role: 'primary' | 'secondary';
  accel: Accelerator;
  runDir: string;
  qmpSocket: string;
  oobQmpSocket: string;
  pidFile: string;
  /** The guest's serial console log (config `console.serial: log` on a real machine), else null. */
  consoleLog: string | null;
  /** The guest's devices as this node runs them; the role steps iterate these. */
  devices: GuestDevice[];
  /** The disk devices' plans, for the steps that handle disk images (sizes, overlays). */
  disks: DiskPlan[];
  args: string[];
  /** Where this node listens for the COLO stream when it is the secondary. */
  /** What the secondary tells the primary to migrate to: its relay's (or qemu's) TCP endpoint. */
  migrationUri: string;
  /** The relay's sockets and listen address; null when qemu's own TCP socket carries the stream. */
  relay: RelayPlan | null;
  /** Where this node serves its disks over NBD when it is the secondary (null: no COLO disk). */
  nbd: { host: string; port: number } | null;
  /** Mutual TLS on NBD and the relay hop (null: `replication.tls: off`). */
  tls: TlsPlan | null;
  checkpointDelayMs: number;
  /** First protection without copying the disks onto the secondary (config `assumeIdentical`). */
  assumeIdentical: boolean;
}

export function findNode(config: Config, nodeName: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === nodeName);
  if (!node) {
    throw new ConfigError([{ path: 'nodes', message: `no node named '${nodeName}' (have: ${config.nodes.map((n) => n.name).join(', ')})` }]);
  }
  return node;
}

export function peerOf(config: Config, nodeName: string): NodeConfig {
  const peer = config.nodes.find((n) => n.name !== nodeName);
  if (!peer) throw new ConfigError([{ path: 'nodes', message: 'a pair needs two nodes' }]);
  return peer;
}

export function findVm(config: Config, vmName: string): VmConfig {
  const vm = config.vms.find((v) => v.name === vmName);
  if (!vm) throw new ConfigError([{ path: 'vms', message: `no VM named '${vmName}'` }]);
  return vm;
}

function under(dir: string, path: string): string {
  return isAbsolute(path) ? path : join(dir, path);
}

/** The `-name` every qemu of ours carries: how an agent recognises its own VM after a restart. */
export function qemuNameOf(pair: string, vm: string): string {
  return `colo-ft.${pair}.${vm}`;
}

export function vmRunDir(node: NodeConfig, vm: string): string {
  return join(node.runtimeDir, vm);
}

/**
 * A secondary is started to receive the primary's COLO stream, so its disks
 * run with colo_restore_enable set; a cold-started primary clears it.
 */
export function startKindFor(role: 'primary' | 'secondary'): StartKind {
  return role === 'secondary' ? 'colo-incoming' : 'cold';
}

export function planVm(
  config: Config,
  vmName: string,
  nodeName: string,
  role: 'primary' | 'secondary',
  kvmUsable: boolean,
): VmPlan {
  const node = findNode(config, nodeName);
  const vm = findVm(config, vmName);
  const accel = resolveAccelerator(vm.machine.accelerator, kvmUsable);
  const machine = resolveMachineType(vm.machine.type, accel, vm.machine.vcpus, vm);
  const machineHasBuses = machine.machineType !== 'none';
  const runDir = vmRunDir(node, vm.name);
  const devices = planDevices({
    vm,
    role,
    start: startKindFor(role),
    machineHasBuses,
    address: node.address,
    localPath: (file) => under(node.imageDir, file),
  });
  const disks = devices.filter(isDiskDevice).map((d) => d.plan);
  const migrationUri = `tcp:${node.address}:${vm.migrationPort}`;
  const tls = tlsPlanOf(config, node.name, peerOf(config, node.name).name, runDir);
  const relayTls = tls ? { cert: join(tls.credsDir, 'server-cert.pem'), key: join(tls.credsDir, 'server-key.pem'), ca: join(tls.credsDir, 'ca-cert.pem'), peer: tls.peer } : null;
  const relay = vm.migrationChannel === 'relay' ? relayPlan(runDir, { host: node.address, port: vm.migrationPort }, relayTls) : null;
  const qmpSocket = join(runDir, 'qmp.sock');
  const oobQmpSocket = join(runDir, 'qmp-oob.sock');
  const pidFile = join(runDir, 'qemu.pid');
  const nbdPort = nbdPortOf(vm);
  return {
    vm: vm.name,
    node: node.name,
    role,
    accel,
    runDir,
    qmpSocket,
    oobQmpSocket,
    pidFile,
    consoleLog: machineHasBuses && vm.console.serial === 'log' ? consoleLogPath(runDir) : null,
    devices,
    disks,
    migrationUri,
    relay,
    nbd: nbdPort === undefined ? null : { host: node.address, port: nbdPort },
    tls,
    checkpointDelayMs: vm.checkpointDelayMs,
    assumeIdentical: vm.assumeIdentical,
    args: buildQemuArgs({
      name: qemuNameOf(config.pair, vm.name),
      accel,
      machineType: machine.machineType,
      vcpus: machine.vcpus,
      cpu: vm.machine.cpu,
      memoryMiB: vm.memoryMiB,
      qmpSocket,
      oobQmpSocket,
      pidFile,
      tlsArgs: tls ? tlsObjectArgs(tls) : [],
      deviceArgs: deviceArgv(devices),
      guestArgs: [...buildGuestArgs(vm, { machineHasBuses, runDir }), ...(devices.some((d) => isNicDevice(d) && d.replicated) ? compareTraceArgs(runDir) : [])],
      extraArgs: vm.extraArgs,
      incoming: role === 'secondary' ? (relay ? `unix:${relay.incomingSocket}` : migrationUri) : undefined,
    }),
  };
}
