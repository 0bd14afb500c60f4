import { yankSteps } from '../../../../shared/qmp/index.js';
import { describe, expect, it } from 'vitest';
import { planDevices, type ReplicationPeer } from '../../../../shared/device/index.js';
import { isNicDevice, nicDevice, planNic, type NicConfig, type NicDevice } from '../../../../shared/nic/index.js';

const NIC: NicConfig = { model: 'e1000', mac: '52:54:00:AB:CD:01', netdev: { type: 'user' }, proxy: { mirrorPort: 9203, comparePort: 9204 } };
const peer: ReplicationPeer = { node: 'beta', nbd: { host: '10.0.0.2', port: 9101 }, disks: [] };

function device(role: 'primary' | 'secondary', nic: NicConfig = NIC): NicDevice {
  return nicDevice(planNic(nic, 0, { role, holdsRewriter: role === 'secondary', listenHost: '10.0.0.2' }));
}

const client = (id: string, port: number) => ({
  execute: 'chardev-add',
  arguments: { id, backend: { type: 'socket', data: { addr: { type: 'inet', data: { host: '10.0.0.2', port: String(port) } }, server: false } } },
});
const unix = (id: string, end: string, server: boolean) => ({
  execute: 'chardev-add',
  arguments: {
    id,
    backend: { type: 'socket', data: { addr: { type: 'unix', data: { path: `colo-ft/525400abcd01/${end}`, abstract: true } }, server, ...(server ? { wait: false } : {}) } },
  },
});
const chardevAdds = [
  client('mirror0', 9203),
  client('compare0', 9204),
  unix('primin0', 'primary-in', true),
  unix('primin0c', 'primary-in', false),
  unix('compout0', 'compare-out', true),
  unix('compout0c', 'compare-out', false),
];
const add = (props: Record<string, unknown>) => ({ execute: 'object-add', arguments: props });
const del = (id: string) => ({ execute: 'object-del', arguments: { id }, ifRefused: 'alreadySo' });
const remove = (id: string) => ({ execute: 'chardev-remove', arguments: { id }, ifRefused: 'alreadySo' });

const compare = add({
  'qom-type': 'colo-compare',
  id: 'comp0',
  primary_in: 'primin0c',
  secondary_in: 'compare0',
  outdev: 'compout0c',
  iothread: 'iothread0',
  vnet_hdr_support: false,
});

const dropSteps = [
  del('comp0'),
  del('iothread0'),
  del('m0'),
  del('redire0a'),
  del('redire0b'),
  remove('mirror0'),
  remove('compare0'),
  remove('primin0c'),
  remove('primin0'),
  remove('compout0c'),
  remove('compout0'),
];

describe('a proxied NIC on a primary that was started as one', () => {
  const d = device('primary');

  it('is a replicated nic device', () => {
    expect([d.kind, d.index, d.replicated, isNicDevice(d)]).toEqual(['nic', 0, true, true]);
  });

  it('attach: connects to the secondary, then mirror, redirectors, iothread, colo-compare', () => {
    expect(d.primary.attach(peer)).toEqual([
      ...chardevAdds,
      add({ 'qom-type': 'filter-mirror', id: 'm0', netdev: 'hn0', queue: 'tx', outdev: 'mirror0', vnet_hdr_support: false }),
      add({ 'qom-type': 'filter-redirector', id: 'redire0a', netdev: 'hn0', queue: 'rx', indev: 'compout0', vnet_hdr_support: false }),
      add({ 'qom-type': 'filter-redirector', id: 'redire0b', netdev: 'hn0', queue: 'rx', outdev: 'primin0', vnet_hdr_support: false }),
      add({ 'qom-type': 'iothread', id: 'iothread0' }),
      compare,
    ]);
  });

  it('carryOn and cleanUp: colo-compare, iothread, filters, then chardevs, each tolerating already gone', () => {
    expect(d.primary.carryOn()).toEqual(dropSteps);
    expect(d.primary.cleanUp()).toEqual(dropSteps);
  });

  it('yanks its two chardevs to the secondary, each alone so that one already gone does not stop the other', () => {
    expect(d.primary.yankInstances()).toEqual([
      { type: 'chardev', id: 'mirror0' },
      { type: 'chardev', id: 'compare0' },
    ]);
    expect(yankSteps(d.primary.yankInstances())).toEqual([
      { execute: 'yank', arguments: { instances: [{ type: 'chardev', id: 'mirror0' }] }, oob: true, ifRefused: 'alreadySo' },
      { execute: 'yank', arguments: { instances: [{ type: 'chardev', id: 'compare0' }] }, oob: true, ifRefused: 'alreadySo' },
    ]);
  });

  it('has nothing to link or resync, and no audit yet', () => {
    expect(d.primary.link()).toEqual([]);
    expect(d.primary.startResync(peer, 1)).toEqual([]);
    expect(d.primary.resyncJobs()).toEqual([]);
    expect(d.primary.setResyncSpeed(1)).toEqual([]);
    expect(d.primary.finishResync(new Set(['resync0']))).toEqual([]);
    expect(d.primary.audit({} as never, peer)).toBeNull();
  });

  it('has no secondary filters to drop on takeover', () => {
    expect(d.secondary.prepare()).toEqual([]);
    expect(d.secondary.takeOver()).toEqual([]);
  });
});

describe('a proxied NIC on a qemu started as the secondary', () => {
  const d = device('secondary');

  it('prepare: nothing, its proxy is on the command line', () => {
    expect(d.secondary.prepare()).toEqual([]);
  });

  it('takeOver: the redirectors, then their chardevs; the rewriter stays', () => {
    expect(d.secondary.takeOver()).toEqual([del('sredire0b'), del('sredire0a'), remove('scompare0'), remove('smirror0')]);
    expect(JSON.stringify(d.secondary.takeOver())).not.toContain('rew0');
  });

  it('attach as the new primary: every filter goes before the kept rewriter, iothread and colo-compare as usual', () => {
    const before = { insert: 'before', position: 'id=rew0' };
    expect(d.primary.attach(peer)).toEqual([
      ...chardevAdds,
      add({ 'qom-type': 'filter-mirror', id: 'm0', netdev: 'hn0', queue: 'tx', outdev: 'mirror0', vnet_hdr_support: false, ...before }),
      add({ 'qom-type': 'filter-redirector', id: 'redire0a', netdev: 'hn0', queue: 'rx', indev: 'compout0', vnet_hdr_support: false, ...before }),
      add({ 'qom-type': 'filter-redirector', id: 'redire0b', netdev: 'hn0', queue: 'rx', outdev: 'primin0', vnet_hdr_support: false, ...before }),
      add({ 'qom-type': 'iothread', id: 'iothread0' }),
      compare,
    ]);
  });

  it('carryOn as the new primary drops its own side only, never the rewriter', () => {
    expect(d.primary.carryOn()).toEqual(dropSteps);
  });
});

describe('an unproxied NIC', () => {
  it('takes no part in COLO: every sequence is empty on either role', () => {
    for (const role of ['primary', 'secondary'] as const) {
      const d = device(role, { ...NIC, proxy: null });
      expect(d.replicated).toBe(false);
      expect([d.primary.attach(peer), d.primary.carryOn(), d.primary.cleanUp(), d.secondary.prepare(), d.secondary.takeOver()]).toEqual([[], [], [], [], []]);
    }
  });
});

describe('the nic kind in planDevices', () => {
  const input = { role: 'secondary' as const, start: 'colo-incoming' as const, localPath: (f: string) => f };

  it('plans one device per NIC after the disks, listening on the node address, holding the rewriter as a secondary', () => {
    const devices = planDevices({ ...input, vm: { disks: [], nics: [NIC, { ...NIC, mac: '52:54:00:ab:cd:02' }] }, address: '10.0.0.7' });
    expect(devices.map((d) => [d.kind, d.index])).toEqual([
      ['nic', 0],
      ['nic', 1],
    ]);
    const nics = devices.filter(isNicDevice);
    expect(nics.map((d) => [d.plan.holdsRewriter, d.plan.listenHost])).toEqual([
      [true, '10.0.0.7'],
      [true, '10.0.0.7'],
    ]);
    expect(nics[1]!.argv()).toContain('socket,id=smirror1,host=10.0.0.7,port=9203,server=on,wait=off');
  });

  it('a primary-started qemu holds no rewriter; no nics field plans no NIC; no address listens everywhere', () => {
    const primary = planDevices({ ...input, role: 'primary', start: 'cold', vm: { disks: [], nics: [NIC] } }).filter(isNicDevice);
    expect(primary.map((d) => [d.plan.holdsRewriter, d.plan.listenHost])).toEqual([[false, '0.0.0.0']]);
    expect(planDevices({ ...input, vm: { disks: [] } })).toEqual([]);
  });
});
