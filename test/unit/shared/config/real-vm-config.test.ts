import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText, refusedExtraArgs } from '../../../../shared/config/index.js';
import { edit, expectIssue } from './config-fixture.js';

const parse = (doc: unknown) => parseConfigText(stringify(doc), 'test.yaml');

describe('a real VM in the pair config', () => {
  it('accepts vCPUs, a CPU model, a kernel, a serial log, VNC, disk devices and extra args', () => {
    const cfg = parse(
      edit((d) => {
        d.vms[0].machine = { type: 'q35', accelerator: 'kvm', vcpus: 2, cpu: 'host' };
        d.vms[0].boot = { kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img', append: 'console=ttyS0 root=/dev/vda1' };
        d.vms[0].console = { vnc: true, vncDisplay: 3 };
        d.vms[0].extraArgs = ['-device', 'virtio-rng-pci'];
        d.vms[0].disks[1].device = { model: 'scsi-hd', bootindex: 1, serial: 'data-1' };
      }),
    );
    const vm = cfg.vms[0]!;
    expect(vm.machine).toEqual({ type: 'q35', accelerator: 'kvm', vcpus: 2, cpu: 'host' });
    expect(vm.boot).toEqual({ firmware: 'seabios', kernel: '/boot/vmlinuz', initrd: '/boot/initrd.img', append: 'console=ttyS0 root=/dev/vda1' });
    expect(vm.console).toEqual({ serial: 'log', vnc: true, vncDisplay: 3 });
    expect(vm.disks[1]!.device).toEqual({ model: 'scsi-hd', bootindex: 1, serial: 'data-1' });
  });

  it.each([
    [(d: any) => (d.vms[0].disks[1].device = { model: 'floppy' }), 'vms[0].disks[1].device.model', 'virtio-blk-pci'],
    [(d: any) => (d.vms[0].disks[1].device = { serial: 'has space' }), 'vms[0].disks[1].device.serial', '1-20 characters'],
    [(d: any) => (d.vms[0].boot = { initrd: '/boot/i' }), 'vms[0].boot.initrd', 'initrd needs kernel'],
    [(d: any) => (d.vms[0].boot = { kernel: 'vmlinuz' }), 'vms[0].boot.kernel', 'absolute path'],
    [(d: any) => (d.vms[0].boot = { firmware: 'ovmf' }), 'vms[0].boot.ovmfCode', 'firmware ovmf needs ovmfCode'],
    [(d: any) => (d.vms[0].boot = { ovmfVars: '/x' }), 'vms[0].boot.ovmfVars', 'only used with firmware ovmf'],
    [(d: any) => (d.vms[0].console = { vncDisplay: 100 }), 'vms[0].console.vncDisplay', '99'],
    [(d: any) => (d.vms[0].machine = { cpu: 'host;rm' }), 'vms[0].machine.cpu', 'qemu CPU model'],
    [(d: any) => (d.vms[0].extraArgs = ['-incoming', 'defer']), 'vms[0].extraArgs[0]', '-incoming is not allowed in extraArgs'],
  ])('refuses %#', (change, path, fragment) => {
    expectIssue(edit(change), path, fragment);
  });

  it('TCG with vCPUs needs tcgGuestWithoutCheckpoints and checkpoints pushed out to an hour', () => {
    const tcgGuest = (delay: number, optIn: boolean) =>
      edit((d) => {
        d.vms[0].machine = { accelerator: 'tcg', type: 'pc', vcpus: 1 };
        d.vms[0].checkpointDelayMs = delay;
        d.vms[0].tcgGuestWithoutCheckpoints = optIn;
        d.timings = { heartbeatTimeoutMs: 7_200_300 };
      });
    expect(parse(tcgGuest(3_600_000, true)).vms[0]!.tcgGuestWithoutCheckpoints).toBe(true);
    expectIssue(tcgGuest(3_600_000, false), 'vms[0].machine', 'deadlocks at the first COLO checkpoint under TCG');
    expectIssue(tcgGuest(200, true), 'vms[0].checkpointDelayMs', 'tcgGuestWithoutCheckpoints needs checkpointDelayMs >= 3600000');
  });
});

describe('refusedExtraArgs', () => {
  it.each([
    [['-pidfile', '/x'], '-pidfile is not allowed'],
    [['--daemonize'], '--daemonize is not allowed'],
    [['-name', 'x'], 'finds its qemu again'],
    [['-qmp', 'tcp:0:4444'], 'owns the monitors'],
    [['-S'], 'decides when the guest runs'],
    [['-snapshot'], 'thrown away'],
    [['-machine', 'pc,accel=kvm'], 'machine.accelerator'],
    [['-accel', 'tcg'], 'machine.accelerator'],
    [['-drive', 'if=none,id=colo-disk0,file=/x'], 'id=colo-disk0 is an id colo-ft uses itself'],
    [['-blockdev', 'driver=file,node-name=parent1,filename=/x'], 'node-name=parent1'],
    [['-chardev', 'socket,id=qmp-oob,path=/x'], 'id=qmp-oob'],
    [['-mon', 'chardev=qmp-oob,mode=control'], 'chardev=qmp-oob'],
    [['-netdev', 'tap,id=hn0'], 'id=hn0'],
    [['-device', 'VGA,id=colo-vga'], 'id=colo-vga'],
  ])('refuses %j', (args, fragment) => {
    const refused = refusedExtraArgs(args);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.index).toBe(0);
    expect(refused[0]!.message).toContain(fragment);
  });

  it('allows what colo-ft does not own, with a doubled comma read as a literal one', () => {
    expect(refusedExtraArgs(['-device', 'virtio-rng-pci,id=rng0', '-machine', 'pc,usb=off', '-drive', 'if=none,id=my,,colo-disk0,file=/x', '-rtc', 'base=utc'])).toEqual([]);
  });

  it('names the position of each refused argument', () => {
    expect(refusedExtraArgs(['-device', 'virtio-rng-pci', '-incoming', 'defer', '-S']).map((r) => r.index)).toEqual([2, 4]);
  });
});

describe('vms[].nics', () => {
  const nic = (over: Record<string, unknown> = {}) => ({ mac: '52:54:00:12:34:56', netdev: { type: 'tap', bridge: 'br0' }, proxy: { mirrorPort: 9200, comparePort: 9201 }, ...over });

  it('a NIC on a bridge with its proxy ports; model defaults to virtio-net-pci, proxy to none', () => {
    const cfg = parse(edit((d) => (d.vms[0].nics = [nic(), { mac: '52:54:00:00:00:02', netdev: { type: 'user' } }])));
    expect(cfg.vms[0]!.nics).toEqual([
      { model: 'virtio-net-pci', mac: '52:54:00:12:34:56', netdev: { type: 'tap', bridge: 'br0' }, proxy: { mirrorPort: 9200, comparePort: 9201 } },
      { model: 'virtio-net-pci', mac: '52:54:00:00:00:02', netdev: { type: 'user' }, proxy: null },
    ]);
  });

  it.each([
    [(d: any) => (d.vms[0].nics = [nic({ mac: '52:54:00:12:34' })]), 'vms[0].nics[0].mac', 'MAC address'],
    [(d: any) => (d.vms[0].nics = [nic(), nic()]), 'vms[0].nics[1].mac', "is also NIC 0's"],
    [(d: any) => (d.vms[0].nics = [nic({ model: 'none' })]), 'vms[0].nics[0].model', 'only for machine type none'],
    [(d: any) => (d.vms[0].nics = [nic({ netdev: { type: 'tap', bridge: 'br0', ifname: 'tap0' } })]), 'vms[0].nics[0].netdev.bridge', 'give bridge alone'],
    [(d: any) => (d.vms[0].nics = [nic({ netdev: { type: 'vde' } })]), 'vms[0].nics[0].netdev.type', ''],
    [(d: any) => (d.vms[0].nics = [nic({ proxy: { mirrorPort: 9100, comparePort: 9201 } })]), 'vms[0].nics[0].proxy.mirrorPort', 'already used by the migrationPort'],
    [(d: any) => (d.vms[0].nics = [nic({ proxy: null })]), 'vms[0].nics[0].proxy', "secondary guest's packets on the network"],
    [(d: any) => (d.vms[0].nics = [nic({ proxy: null, netdev: { type: 'tap', ifname: 'tap0' } })]), 'vms[0].nics[0].proxy', 'give it a proxy'],
  ])('refuses %#', (change, path, fragment) => {
    expectIssue(edit(change), path, fragment);
  });

  it('refuses a proxied NIC on a TCG guest without periodic checkpoints (a miscompare would force a deadlocking checkpoint)', () => {
    const doc = edit((d) => {
      d.vms[0].machine = { accelerator: 'tcg', type: 'pc', vcpus: 1 };
      d.vms[0].checkpointDelayMs = 3_600_000;
      d.vms[0].tcgGuestWithoutCheckpoints = true;
      d.timings = { heartbeatTimeoutMs: 7_200_300 };
      d.vms[0].nics = [nic()];
    });
    expectIssue(doc, 'vms[0].nics[0].proxy', 'deadlock QEMU 7.2 under TCG');
  });
});
