import { describe, expect, it } from 'vitest';
import type { Config } from '../../../../shared/config/index.js';
import { pairConfigWithDisks } from '../pair-config-fixture.js';
import type { GuestDevice, ReplicationPeer } from '../../../../shared/device/index.js';
import { auditPrimaryDisk, auditSecondaryDisk, diskIds, isDiskDevice, type AuditInput } from '../../../../shared/disk/index.js';
import { ColoError, DiskError } from '../../../../shared/errors.js';
import { planVm } from '../../../../shared/qemu/index.js';

/** Two COLO disks and a plain one; beta is the secondary, and the survivor after a failover. */
function pairConfig(): Config {
  const disks = [
    'format=raw,target=d0.img,colo,colo-params=127.0.0.1:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2',
    'format=qcow2,target=/srv/d1.img,colo,colo-params=127.0.0.1:9101:exportname=d1,active-disk=a1.qcow2,hidden-disk=h1.qcow2',
    'format=raw,target=p2.img,no-colo',
  ];
  return pairConfigWithDisks(disks, { betaAddress: '127.0.0.2', fileName: 'device.yaml' });
}

const config = pairConfig();
const primary = planVm(config, 'vm1', 'alpha', 'primary', false).devices;
const secondary = planVm(config, 'vm1', 'beta', 'secondary', false).devices;
const peer: ReplicationPeer = {
  node: 'beta',
  nbd: { host: '127.0.0.2', port: 9101 },
  disks: [
    { index: 0, exportName: 'd0' },
    { index: 1, exportName: 'd1' },
  ],
};

const at = (devices: GuestDevice[], i: number): GuestDevice => devices[i]!;

describe('the disk devices of a plan', () => {
  it('are one device per configured disk, in config order, replicated unless plain', () => {
    for (const devices of [primary, secondary]) {
      expect(devices.map((d) => [d.kind, d.index, d.replicated])).toEqual([
        ['disk', 0, true],
        ['disk', 1, true],
        ['disk', 2, false],
      ]);
      expect(devices.every(isDiskDevice)).toBe(true);
    }
  });
});

describe('disk argv per role', () => {
  it('primary: a quorum over the local image; plain stays plain', () => {
    expect(primary.map((d) => d.argv())).toEqual([
      ['-drive', 'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/var/lib/colo-a/d0.img,children.0.driver=raw'],
      ['-drive', 'if=none,id=colo-disk1,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/srv/d1.img,children.0.driver=qcow2'],
      ['-drive', 'if=none,id=colo-disk2,driver=raw,file.driver=file,file.filename=/var/lib/colo-a/p2.img'],
    ]);
  });

  it('secondary: parent, replication child over active and hidden, quorum; plain stays plain', () => {
    expect(at(secondary, 0).argv()).toEqual([
      '-drive',
      'if=none,id=parent0,file.filename=/var/lib/colo-b/d0.img,driver=raw',
      '-drive',
      'if=none,id=childs0,driver=replication,mode=secondary,file.driver=qcow2,top-id=colo-disk0,file.file.filename=/var/lib/colo-b/a0.qcow2,file.backing.driver=qcow2,file.backing.file.filename=/var/lib/colo-b/h0.qcow2,file.backing.backing=parent0',
      '-drive',
      'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=childs0',
    ]);
    expect(at(secondary, 1).argv()[1]).toBe('if=none,id=parent1,file.filename=/srv/d1.img,driver=qcow2');
    expect(at(secondary, 2).argv()).toEqual(['-drive', 'if=none,id=colo-disk2,driver=raw,file.driver=file,file.filename=/var/lib/colo-b/p2.img']);
  });
});

describe('secondary sequences', () => {
  it('prepare: export each COLO disk parent writable under its export name', () => {
    expect(secondary.map((d) => d.secondary.prepare())).toEqual([
      [{ execute: 'nbd-server-add', arguments: { device: 'parent0', name: 'd0', writable: true } }],
      [{ execute: 'nbd-server-add', arguments: { device: 'parent1', name: 'd1', writable: true } }],
      [],
    ]);
  });

  it('prepare exports nothing from the primary layout (no parent node there)', () => {
    expect(primary.map((d) => d.secondary.prepare())).toEqual([[], [], []]);
  });

  it('take over: nothing per disk (the NBD server stop covers every disk)', () => {
    expect(secondary.map((d) => d.secondary.takeOver())).toEqual([[], [], []]);
  });
});

/** The primary's sequences of disk `i`, the same whether its qemu started as primary or is the survivor of a failover. */
function primarySequences(d: GuestDevice) {
  return {
    attach: d.primary.attach(peer),
    link: d.primary.link(),
    yank: d.primary.yankInstances(),
    carryOn: d.primary.carryOn(),
    resync: d.primary.startResync(peer, 0),
    jobs: d.primary.resyncJobs(),
    speed: d.primary.setResyncSpeed(1_000_000),
    finish: d.primary.finishResync(new Set(['resync0', 'resync1'])),
    cleanUp: d.primary.cleanUp(),
  };
}

describe('primary sequences (protect, failover, restore)', () => {
  it('disk 0: exact QMP commands and HMP lines', () => {
    expect(primarySequences(at(primary, 0))).toEqual({
      attach: [{ hmp: 'drive_add -n buddy driver=replication,mode=primary,file.driver=nbd,file.host=127.0.0.2,file.port=9101,file.export=d0,file.node-name=replnbd0,node-name=replication0' }],
      link: [{ execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', node: 'replication0' } }],
      yank: [{ type: 'block-node', 'node-name': 'replnbd0' }],
      carryOn: [
        { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', child: 'children.1' }, ifRefused: 'alreadySo' },
        { hmp: 'drive_del replication0', ifRefused: 'alreadySo' },
      ],
      resync: [
        { execute: 'blockdev-del', arguments: { 'node-name': 'resync0-target' }, ifRefused: 'alreadySo' },
        { execute: 'blockdev-add', arguments: { driver: 'nbd', 'node-name': 'resync0-target', server: { type: 'inet', host: '127.0.0.2', port: '9101' }, export: 'd0' } },
        { execute: 'blockdev-mirror', arguments: { device: 'colo-disk0', 'job-id': 'resync0', target: 'resync0-target', sync: 'full' } },
      ],
      jobs: ['resync0'],
      speed: [{ execute: 'block-job-set-speed', arguments: { device: 'resync0', speed: 1_000_000 }, ifRefused: 'alreadySo' }],
      finish: [{ execute: 'block-job-cancel', arguments: { device: 'resync0' } }],
      cleanUp: [
        { execute: 'block-job-cancel', arguments: { device: 'resync0', force: true }, ifRefused: 'alreadySo' },
        { execute: 'blockdev-del', arguments: { 'node-name': 'resync0-target' }, ifRefused: 'alreadySo' },
        { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', child: 'children.1' }, ifRefused: 'alreadySo' },
        { hmp: 'drive_del replication0', ifRefused: 'alreadySo' },
      ],
    });
  });

  it('a resync speed is passed to the mirror only when set', () => {
    expect(at(primary, 1).primary.startResync(peer, 5_000).at(-1)).toEqual({
      execute: 'blockdev-mirror',
      arguments: { device: 'colo-disk1', 'job-id': 'resync1', target: 'resync1-target', sync: 'full', speed: 5_000 },
    });
  });

  it('with TLS: the replication child and the resync target are NBD clients with our credentials, checking the peer by name', () => {
    const tlsPeer = { ...peer, tlsCreds: 'colo-tls-client' };
    const d = at(primary, 0);
    expect(d.primary.attach(tlsPeer)).toEqual([
      {
        hmp: 'drive_add -n buddy driver=replication,mode=primary,file.driver=nbd,file.host=127.0.0.2,file.port=9101,file.export=d0,file.tls-creds=colo-tls-client,file.tls-hostname=beta,file.node-name=replnbd0,node-name=replication0',
      },
    ]);
    expect(d.primary.startResync(tlsPeer, 0)[1]).toEqual({
      execute: 'blockdev-add',
      arguments: { driver: 'nbd', 'node-name': 'resync0-target', server: { type: 'inet', host: '127.0.0.2', port: '9101' }, export: 'd0', 'tls-creds': 'colo-tls-client', 'tls-hostname': 'beta' },
    });
    expect(d.primary.releaseResync()).toEqual([{ execute: 'blockdev-del', arguments: { 'node-name': 'resync0-target' }, ifRefused: 'alreadySo' }]);
  });

  it('switch over cancels only the jobs still running', () => {
    expect(at(primary, 1).primary.finishResync(new Set(['resync0']))).toEqual([]);
  });

  it('restore layout: the survivor of a failover (secondary drives, now primary) runs the same sequences', () => {
    for (const i of [0, 1]) expect(primarySequences(at(secondary, i))).toEqual(primarySequences(at(primary, i)));
  });

  it('a plain disk has no sequence at all', () => {
    const plain = primarySequences(at(primary, 2));
    expect(Object.values(plain).every((list) => list.length === 0)).toBe(true);
  });

  it('a disk the secondary does not export: attach throws a DiskError, resync a local ColoError, as before', () => {
    const without = { ...peer, disks: [{ index: 0, exportName: 'd0' }] };
    expect(() => at(primary, 1).primary.attach(without)).toThrow(DiskError);
    expect(() => at(primary, 1).primary.attach(without)).toThrow('secondary beta does not export disk 1');
    const resync = (): unknown => at(primary, 1).primary.startResync(without, 0);
    expect(resync).toThrow(ColoError);
    expect(resync).not.toThrow(DiskError);
  });
});

describe("the disk's part of the replication audit", () => {
  const empty: AuditInput = { graph: { nodes: [], edges: [] }, named: [], exports: [] };

  it('primary: the audit against the peer export; null for a plain disk', () => {
    const target = { host: '127.0.0.2', port: 9101, exportName: 'd1' };
    expect(at(primary, 1).primary.audit(empty, peer)).toEqual(auditPrimaryDisk(empty, { index: 1, ids: diskIds(1), target }));
    expect(at(primary, 1).primary.audit(empty, peer)).toMatchObject({ state: 'degraded', reason: 'disk 1: no drive colo-disk1 in qemu' });
    expect(at(primary, 2).primary.audit(empty, peer)).toBeNull();
  });

  it('secondary: the audit against its active and hidden images; null for a plain disk', () => {
    const expected = { index: 0, ids: diskIds(0), activePath: '/var/lib/colo-b/a0.qcow2', hiddenPath: '/var/lib/colo-b/h0.qcow2' };
    expect(at(secondary, 0).secondary.audit(empty)).toEqual(auditSecondaryDisk(empty, expected));
    expect(at(secondary, 2).secondary.audit(empty)).toBeNull();
  });
});
