import { describe, expect, it } from 'vitest';
import { pairConfigWithDisks } from '../pair-config-fixture.js';
import { deviceArgv, planDevices } from '../../../../shared/device/index.js';
import { buildDriveArgs, isDiskDevice } from '../../../../shared/disk/index.js';
import { tlsObjectArgs } from '../../../../shared/tls/index.js';
import { buildQemuArgs, planVm, qemuNameOf, type VmPlan } from '../../../../shared/qemu/index.js';

const DISKS = [
  'format=raw,target=d0.img,colo,colo-params=127.0.0.1:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2',
  'format=raw,target=p1.img,access=ro,no-colo',
  // A comma in a path: qemu option values escape it.
  {
    target: '/srv/d,2.img',
    format: 'qcow2',
    colo: true,
    coloParams: { host: '127.0.0.1', port: 9101, exportName: 'd2' },
    activeDisk: 'a,2.qcow2',
    hiddenDisk: 'h2.qcow2',
  },
];

const config = pairConfigWithDisks(DISKS, { betaAddress: '127.0.0.1', fileName: 'registry.yaml' });

/** The argv as planVm composed it before the device seam: every disk's -drive pieces in the one drive slot. */
function argvBeforeTheSeam(plan: VmPlan): string[] {
  const driveArgs = plan.disks.flatMap((d) =>
    buildDriveArgs({
      index: d.index,
      layout: d.layout,
      imagePath: d.imagePath,
      format: d.disk.format,
      activePath: d.activePath,
      hiddenPath: d.hiddenPath,
      readOnly: d.disk.access === 'ro',
    }),
  );
  return buildQemuArgs({
    name: qemuNameOf(config.pair, plan.vm),
    accel: 'tcg',
    machineType: 'none',
    vcpus: 0,
    memoryMiB: 64,
    qmpSocket: plan.qmpSocket,
    oobQmpSocket: plan.oobQmpSocket,
    pidFile: plan.pidFile,
    tlsArgs: tlsObjectArgs(plan.tls!),
    deviceArgs: [driveArgs],
    incoming: plan.role === 'secondary' ? `unix:${plan.relay!.incomingSocket}` : undefined,
  });
}

describe('planDevices', () => {
  it('plans the disk kind from the VM config, in config order, with this node files', () => {
    const devices = planDevices({ vm: config.vms[0]!, role: 'secondary', start: 'colo-incoming', localPath: (f) => (f.startsWith('/') ? f : `/img/${f}`) });
    expect(devices.map((d) => [d.kind, d.index])).toEqual([
      ['disk', 0],
      ['disk', 1],
      ['disk', 2],
    ]);
    expect(devices.filter(isDiskDevice).map((d) => [d.plan.layout, d.plan.imagePath])).toEqual([
      ['secondary', '/img/d0.img'],
      ['plain', '/img/p1.img'],
      ['secondary', '/srv/d,2.img'],
    ]);
    expect(deviceArgv(devices)).toEqual(devices.map((d) => d.argv()));
  });
});

describe.each([
  ['alpha', 'primary'],
  ['beta', 'secondary'],
  ['beta', 'primary'],
] as const)('planVm on %s as %s', (node, role) => {
  const plan = planVm(config, 'vm1', node, role, false);

  it('gives qemu byte for byte the argv it had before the device seam', () => {
    expect(plan.args).toEqual(argvBeforeTheSeam(plan));
  });

  it('keeps plan.disks as the disk devices plans', () => {
    expect(plan.disks).toEqual(plan.devices.filter(isDiskDevice).map((d) => d.plan));
  });
});
