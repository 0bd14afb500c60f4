import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../shared/errors.js';
import { buildNicArgs, nicIds, planNic, type NicConfig, type NicNetdev } from '../../../../shared/nic/index.js';

const PROXY = { mirrorPort: 9203, comparePort: 9204 };
const MAC = '52:54:00:12:34:56';

function nic(model: NicConfig['model'], netdev: NicNetdev, proxy: NicConfig['proxy'] = PROXY): NicConfig {
  return { model, mac: MAC, netdev, proxy };
}

function argv(n: NicConfig, role: 'primary' | 'secondary', index = 0): string[] {
  return buildNicArgs(planNic(n, index, { role, holdsRewriter: role === 'secondary', listenHost: '10.0.0.2' }));
}

describe('nicIds', () => {
  it('derives every id from the index', () => {
    const ids = nicIds(3);
    expect([ids.netdev, ids.device, ids.hubport]).toEqual(['hn3', 'nic3', 'hp3']);
    expect(ids.primary).toEqual({
      mirror: 'm3',
      redirectorIn: 'redire3a',
      redirectorOut: 'redire3b',
      compare: 'comp3',
      iothread: 'iothread3',
      mirrorChardev: 'mirror3',
      secondaryInChardev: 'compare3',
      primaryInServer: 'primin3',
      primaryInClient: 'primin3c',
      compareOutServer: 'compout3',
      compareOutClient: 'compout3c',
    });
    expect(ids.secondary).toEqual({ redirectorIn: 'sredire3a', redirectorOut: 'sredire3b', rewriter: 'rew3', mirrorChardev: 'smirror3', compareChardev: 'scompare3' });
  });

  it('refuses an index that is not a non-negative integer', () => {
    expect(() => nicIds(-1)).toThrow(RangeError);
    expect(() => nicIds(1.5)).toThrow(RangeError);
  });
});

describe('the netdev and guest NIC', () => {
  it('tap: vhost off, no scripts unless one is given; a virtio-net NIC on it', () => {
    expect(argv(nic('virtio-net-pci', { type: 'tap', ifname: 'tap0' }, null), 'primary')).toEqual([
      '-netdev', 'tap,id=hn0,vhost=off,ifname=tap0,script=no,downscript=no',
      '-device', `virtio-net-pci,netdev=hn0,mac=${MAC},id=nic0`,
    ]);
    expect(argv(nic('e1000', { type: 'tap', script: '/etc/colo,up' }, null), 'primary', 2)).toEqual([
      '-netdev', 'tap,id=hn2,vhost=off,script=/etc/colo,,up,downscript=no',
      '-device', `e1000,netdev=hn2,mac=${MAC},id=nic2`,
    ]);
  });

  it('tap on a bridge: the bridge helper, which takes neither ifname nor script', () => {
    expect(argv(nic('e1000', { type: 'tap', bridge: 'br0' }, null), 'primary')[1]).toBe('bridge,id=hn0,br=br0');
    expect(() => argv(nic('e1000', { type: 'tap', bridge: 'br0', ifname: 'tap0' }, null), 'primary')).toThrow(ConfigError);
  });

  it('user and socket netdevs', () => {
    expect(argv(nic('e1000', { type: 'user' }, null), 'primary')[1]).toBe('user,id=hn0');
    expect(argv(nic('e1000', { type: 'socket', listen: ':9300' }, null), 'primary')[1]).toBe('socket,id=hn0,listen=:9300');
    expect(argv(nic('e1000', { type: 'socket', connect: '10.0.0.9:9300' }, null), 'primary')[1]).toBe('socket,id=hn0,connect=10.0.0.9:9300');
    expect(argv(nic('e1000', { type: 'socket', udp: '127.0.0.1:1', localaddr: '127.0.0.1:2' }, null), 'primary')[1]).toBe(
      'socket,id=hn0,udp=127.0.0.1:1,localaddr=127.0.0.1:2',
    );
  });

  it('refuses a socket netdev with no mode, two modes, or udp without localaddr; and a malformed MAC', () => {
    expect(() => argv(nic('e1000', { type: 'socket' }, null), 'primary')).toThrow(ConfigError);
    expect(() => argv(nic('e1000', { type: 'socket', listen: ':1', connect: 'h:1' }, null), 'primary')).toThrow(ConfigError);
    expect(() => argv(nic('e1000', { type: 'socket', udp: 'h:1' }, null), 'primary')).toThrow(/udp and localaddr/);
    expect(() => argv({ ...nic('e1000', { type: 'user' }, null), mac: '52:54:00:12:34' }, 'primary')).toThrow(/not a MAC address/);
  });

  it('model none: a hub port is the netdev peer, no guest NIC', () => {
    expect(argv(nic('none', { type: 'socket', udp: '127.0.0.1:1', localaddr: '127.0.0.1:2' }, null), 'primary', 1)).toEqual([
      '-netdev', 'socket,id=hn1,udp=127.0.0.1:1,localaddr=127.0.0.1:2',
      '-netdev', 'hubport,id=hp1,hubid=1,netdev=hn1',
    ]);
  });
});

describe('the proxy on the command line', () => {
  it('primary: nothing beyond the NIC (its side is added by QMP when it protects)', () => {
    expect(argv(nic('virtio-net-pci', { type: 'user' }), 'primary')).toEqual(argv(nic('virtio-net-pci', { type: 'user' }, null), 'primary'));
  });

  it('secondary: listening chardevs on its address, then both redirectors and the rewriter', () => {
    expect(argv(nic('virtio-net-pci', { type: 'user' }), 'secondary')).toEqual([
      '-netdev', 'user,id=hn0',
      '-device', `virtio-net-pci,netdev=hn0,mac=${MAC},id=nic0`,
      '-chardev', 'socket,id=smirror0,host=10.0.0.2,port=9203,server=on,wait=off',
      '-chardev', 'socket,id=scompare0,host=10.0.0.2,port=9204,server=on,wait=off',
      '-object', 'filter-redirector,id=sredire0a,netdev=hn0,queue=tx,indev=smirror0,vnet_hdr_support=off',
      '-object', 'filter-redirector,id=sredire0b,netdev=hn0,queue=rx,outdev=scompare0,vnet_hdr_support=off',
      '-object', 'filter-rewriter,id=rew0,netdev=hn0,queue=all,vnet_hdr_support=off',
    ]);
  });

  it('secondary on a tap: every filter carries the vnet header length', () => {
    const objects = argv(nic('virtio-net-pci', { type: 'tap' }), 'secondary').filter((a) => a.startsWith('filter-'));
    expect(objects).toHaveLength(3);
    expect(objects.every((o) => o.endsWith(',vnet_hdr_support=on'))).toBe(true);
  });

  it('secondary with an unproxied NIC: no proxy pieces', () => {
    expect(argv(nic('e1000', { type: 'user' }, null), 'secondary')).toEqual(['-netdev', 'user,id=hn0', '-device', `e1000,netdev=hn0,mac=${MAC},id=nic0`]);
  });
});
