import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText, type Config } from '../../../../shared/config/index.js';
import { planVm, type VmPlan } from '../../../../shared/qemu/vm-plan.js';

type Doc = Record<string, any>;

const colo = (i: number, device?: Doc): Doc => ({
  target: `d${i}.img`,
  colo: true,
  coloParams: { host: '127.0.0.1', port: 9101, exportName: `d${i}` },
  activeDisk: `a${i}.qcow2`,
  hiddenDisk: `h${i}.qcow2`,
  ...(device ? { device } : {}),
});

function guestConfig(vm: Doc): Config {
  const doc = {
    pair: 'demo',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    timings: { heartbeatTimeoutMs: 7_200_300 },
    nodes: [
      { name: 'alpha', address: '127.0.0.1', initialRole: 'primary', runtimeDir: '/run/colo-a', imageDir: '/var/lib/colo-a' },
      { name: 'beta', address: '127.0.0.1', initialRole: 'secondary', runtimeDir: '/run/colo-b', imageDir: '/var/lib/colo-b' },
    ],
    vms: [{ name: 'vm1', memoryMiB: 128, migrationPort: 9100, disks: [colo(0)], ...vm }],
  };
  return parseConfigText(stringify(doc), 'test.yaml');
}

/** The argv from the first `-device` on, where the guest-facing part starts after the drives. */
function devices(plan: VmPlan): string[] {
  return plan.args.flatMap((a, i) => (a === '-device' ? [plan.args[i + 1] ?? ''] : []));
}

describe('planVm: a real guest', () => {
  const vm = {
    machine: { type: 'pc', vcpus: 2, cpu: 'host' },
    boot: { kernel: '/g/vmlinuz', initrd: '/g/initrd.img', append: 'console=ttyS0 quiet' },
    disks: [colo(0), colo(1, { model: 'ide-hd', bootindex: 2, serial: 'd1' }), colo(2, { model: 'scsi-hd' }), colo(3, { model: 'scsi-hd' })],
    extraArgs: ['-device', 'virtio-rng-pci'],
  };

  it.each([
    ['primary', 'alpha'],
    ['secondary', 'beta'],
  ] as const)('attaches every disk to its guest device by the top node, the same on the %s', (role, node) => {
    const plan = planVm(guestConfig(vm), 'vm1', node, role, true);
    expect(devices(plan)).toEqual([
      'virtio-blk-pci,drive=colo-disk0,id=colo-vd0',
      'ide-hd,drive=colo-disk1,id=colo-vd1,bootindex=2,serial=d1',
      'virtio-scsi-pci,id=colo-scsi0',
      'scsi-hd,drive=colo-disk2,id=colo-vd2,bus=colo-scsi0.0',
      'scsi-hd,drive=colo-disk3,id=colo-vd3,bus=colo-scsi0.0',
      'virtio-rng-pci',
    ]);
  });

  it('gives the guest its CPU, kernel, serial log, and the extra args before -incoming', () => {
    const plan = planVm(guestConfig(vm), 'vm1', 'beta', 'secondary', true);
    const a = plan.args;
    expect(a.slice(a.indexOf('-machine'), a.indexOf('-machine') + 6)).toEqual(['-machine', 'pc,accel=kvm', '-cpu', 'host', '-smp', '2']);
    expect(a.slice(a.indexOf('-kernel'), a.indexOf('-kernel') + 6)).toEqual(['-kernel', '/g/vmlinuz', '-initrd', '/g/initrd.img', '-append', 'console=ttyS0 quiet']);
    expect(a).toContain('file,id=colo-console,path=/run/colo-b/vm1/console.log,append=on');
    expect(a[a.indexOf('-serial') + 1]).toBe('chardev:colo-console');
    expect(plan.consoleLog).toBe('/run/colo-b/vm1/console.log');
    expect(a.slice(-4)).toEqual(['-device', 'virtio-rng-pci', '-incoming', expect.stringMatching(/^unix:.*\/colo-in\.sock$/)]);
  });

  it('OVMF as two pflash drives and VNC on loopback with a display adapter', () => {
    const plan = planVm(
      guestConfig({ boot: { firmware: 'ovmf', ovmfCode: '/fw/CODE.fd', ovmfVars: '/fw/vars,1.fd' }, console: { serial: 'none', vnc: true, vncDisplay: 4 } }),
      'vm1',
      'alpha',
      'primary',
      true,
    );
    expect(plan.args).toContain('if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd');
    expect(plan.args).toContain('if=pflash,format=raw,unit=1,file=/fw/vars,,1.fd');
    expect(plan.args.slice(plan.args.indexOf('-vnc') - 2, plan.args.indexOf('-vnc') + 2)).toEqual(['-device', 'VGA', '-vnc', '127.0.0.1:4']);
    expect(plan.args).not.toContain('-serial');
    expect(plan.consoleLog).toBeNull();
  });

  it('-machine none keeps the drive-only VM: no guest device, no console', () => {
    const plan = planVm(guestConfig({ machine: { type: 'none' } }), 'vm1', 'alpha', 'primary', false);
    expect(devices(plan)).toEqual([]);
    expect(plan.args).not.toContain('-serial');
    expect(plan.consoleLog).toBeNull();
  });

  it('under TCG a guest with vCPUs runs only when it opted out of periodic checkpoints', () => {
    const tcgGuest = { machine: { vcpus: 1 }, checkpointDelayMs: 3_600_000, tcgGuestWithoutCheckpoints: true };
    const plan = planVm(guestConfig(tcgGuest), 'vm1', 'alpha', 'primary', false);
    expect(plan.args.slice(plan.args.indexOf('-machine'), plan.args.indexOf('-machine') + 4)).toEqual(['-machine', 'pc,accel=tcg', '-smp', '1']);
    expect(devices(plan)).toEqual(['virtio-blk-pci,drive=colo-disk0,id=colo-vd0']);
    expect(() => planVm(guestConfig({ machine: { vcpus: 1 } }), 'vm1', 'alpha', 'primary', false)).toThrow(/deadlocks at the first COLO checkpoint/);
  });
});

describe('planVm: NICs from the config', () => {
  const nics = [{ mac: '52:54:00:12:34:56', netdev: { type: 'tap', bridge: 'br0' }, proxy: { mirrorPort: 9200, comparePort: 9201 } }];

  it('the same guest NIC on both nodes; only the secondary starts with its proxy filters, listening on its own address', () => {
    const primary = planVm(guestConfig({ nics }), 'vm1', 'alpha', 'primary', true);
    const secondary = planVm(guestConfig({ nics }), 'vm1', 'beta', 'secondary', true);
    const nicDevice = (p: VmPlan) => devices(p).filter((d) => d.startsWith('virtio-net-pci'));
    expect(nicDevice(primary)).toEqual(nicDevice(secondary));
    expect(nicDevice(primary)[0]).toContain('mac=52:54:00:12:34:56');
    const objects = (p: VmPlan) => p.args.flatMap((a, i) => (a === '-object' ? [p.args[i + 1]!] : []));
    const tls = ['tls-creds-x509', 'tls-creds-x509', 'authz-simple'];
    expect(objects(primary).map((o) => o.split(',')[0])).toEqual(tls);
    expect(objects(secondary).map((o) => o.split(',')[0])).toEqual([...tls, 'filter-redirector', 'filter-redirector', 'filter-rewriter']);
    expect(secondary.args.filter((a) => a.startsWith('socket,') && a.includes('host=127.0.0.1'))).toHaveLength(2);
  });
});
