import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText, type Config } from '../../../../shared/config/index.js';
import { ConfigError } from '../../../../shared/errors.js';
import { planVm, startKindFor, type VmPlan } from '../../../../shared/qemu/vm-plan.js';

type Doc = Record<string, any>;

const COLO_DISK0 = 'target=d0.img,colo,colo-params=127.0.0.1:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2';
const COLO_DISK1 = {
  target: '/srv/shared/d1.img',
  colo: true,
  coloParams: { host: '127.0.0.1', port: 9101, exportName: 'd1' },
  activeDisk: 'a1.qcow2',
  hiddenDisk: 'h1.qcow2',
};

/** A two-node pair on one host, so each node needs its own runtimeDir and imageDir. */
function pairDoc(disks: unknown[] = [COLO_DISK0], machine?: Doc): Doc {
  return {
    pair: 'demo',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    nodes: [
      { name: 'alpha', address: '127.0.0.1', initialRole: 'primary', runtimeDir: '/run/colo-a', imageDir: '/var/lib/colo-a' },
      { name: 'beta', address: '127.0.0.1', initialRole: 'secondary', runtimeDir: '/run/colo-b', imageDir: '/var/lib/colo-b' },
    ],
    vms: [{ name: 'vm1', memoryMiB: 64, migrationPort: 9100, disks, ...(machine ? { machine } : {}) }],
  };
}

function config(doc: Doc = pairDoc()): Config {
  return parseConfigText(stringify(doc), 'test.yaml');
}

/** The `-drive` option strings of a plan, in order. */
function drives(plan: VmPlan): string[] {
  return plan.args.flatMap((a, i) => (a === '-drive' ? [plan.args[i + 1] ?? ''] : []));
}

function optionValue(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

describe('planVm: secondary', () => {
  const plan = planVm(config(), 'vm1', 'beta', 'secondary', false);

  it('takes the COLO stream through its relay: the relay listens on its own address and migrationPort, qemu on a unix socket', () => {
    expect(plan.migrationUri).toBe('tcp:127.0.0.1:9100');
    const tls = `${plan.runDir}/tls`;
    expect(plan.relay).toEqual({
      incomingSocket: `${plan.runDir}/colo-in.sock`,
      outgoingSocket: `${plan.runDir}/colo-out.sock`,
      listen: { host: '127.0.0.1', port: 9100 },
      tls: { cert: `${tls}/server-cert.pem`, key: `${tls}/server-key.pem`, ca: `${tls}/ca-cert.pem`, peer: 'alpha' },
    });
    expect(plan.args.slice(-2)).toEqual(['-incoming', `unix:${plan.runDir}/colo-in.sock`]);
  });

  it('TLS by default: credentials from the pair\'s PKI dir, objects for NBD server, client and the peer-only authz', () => {
    expect(plan.tls).toEqual({
      pki: { caCert: '/etc/colo-ft/pki/demo/ca-cert.pem', cert: '/etc/colo-ft/pki/demo/beta-cert.pem', key: '/etc/colo-ft/pki/demo/beta-key.pem' },
      credsDir: `${plan.runDir}/tls`,
      peerIdentity: 'O=colo-ft,CN=alpha',
      peer: 'alpha',
    });
    const objects = plan.args.flatMap((a, i) => (a === '-object' ? [plan.args[i + 1]!] : []));
    expect(objects).toEqual([
      `tls-creds-x509,id=colo-tls-server,endpoint=server,verify-peer=on,dir=${plan.runDir}/tls`,
      `tls-creds-x509,id=colo-tls-client,endpoint=client,dir=${plan.runDir}/tls`,
      'authz-simple,id=colo-tls-authz,identity=O=colo-ft,,CN=alpha',
    ]);
  });

  it('replication.tls off: no TLS objects, a plain relay', () => {
    const doc = pairDoc();
    (doc as Record<string, unknown>).replication = { tls: 'off' };
    const plain = planVm(config(doc), 'vm1', 'beta', 'secondary', false);
    expect(plain.tls).toBeNull();
    expect(plain.relay?.tls).toBeNull();
    expect(plain.args).not.toContain('-object');
  });

  it('with migrationChannel tcp, qemu itself listens on its own address and migrationPort', () => {
    const doc = pairDoc();
    doc.vms[0].migrationChannel = 'tcp';
    (doc as Record<string, unknown>).replication = { tls: 'off' };
    const tcp = planVm(config(doc), 'vm1', 'beta', 'secondary', false);
    expect(tcp.relay).toBeNull();
    expect(optionValue(tcp.args, '-incoming')).toBe('tcp:127.0.0.1:9100');
    expect(tcp.args.slice(-2)).toEqual(['-incoming', 'tcp:127.0.0.1:9100']);
  });

  it('uses the secondary drive layout with images under its own imageDir', () => {
    expect(plan.disks).toHaveLength(1);
    expect(plan.disks[0]).toMatchObject({
      index: 0,
      layout: 'secondary',
      imagePath: '/var/lib/colo-b/d0.img',
      activePath: '/var/lib/colo-b/a0.qcow2',
      hiddenPath: '/var/lib/colo-b/h0.qcow2',
      exportName: 'd0',
      ids: { top: 'colo-disk0', parent: 'parent0', child: 'childs0' },
    });
    const [parent, child, top] = drives(plan);
    expect(parent).toContain('id=parent0');
    expect(parent).toContain('file.filename=/var/lib/colo-b/d0.img');
    expect(child).toContain('id=childs0');
    expect(child).toContain('driver=replication');
    expect(child).toContain('mode=secondary');
    expect(child).toContain('file.file.filename=/var/lib/colo-b/a0.qcow2');
    expect(child).toContain('file.backing.file.filename=/var/lib/colo-b/h0.qcow2');
    expect(top).toContain('id=colo-disk0');
    expect(top).toContain('children.0=childs0');
    expect(drives(plan).join(' ')).not.toContain('/var/lib/colo-a');
  });

  it('serves NBD on the node address and the colo-params port', () => {
    expect(plan.nbd).toEqual({ host: '127.0.0.1', port: 9101 });
  });

  it('keeps its sockets, pid file and name under its own runtimeDir', () => {
    expect(plan).toMatchObject({
      vm: 'vm1',
      node: 'beta',
      role: 'secondary',
      runDir: '/run/colo-b/vm1',
      qmpSocket: '/run/colo-b/vm1/qmp.sock',
      oobQmpSocket: '/run/colo-b/vm1/qmp-oob.sock',
      pidFile: '/run/colo-b/vm1/qemu.pid',
      checkpointDelayMs: 200,
      assumeIdentical: false,
    });
    expect(optionValue(plan.args, '-name')).toBe('colo-ft.demo.vm1');
    expect(optionValue(plan.args, '-pidfile')).toBe('/run/colo-b/vm1/qemu.pid');
    expect(optionValue(plan.args, '-qmp')).toBe('unix:/run/colo-b/vm1/qmp.sock,server=on,wait=off');
    expect(optionValue(plan.args, '-m')).toBe('64');
  });
});

describe('planVm: primary', () => {
  const plan = planVm(config(), 'vm1', 'alpha', 'primary', false);

  it('uses the quorum layout over its own image and does not wait for a stream', () => {
    expect(plan.disks[0]).toMatchObject({ layout: 'primary', imagePath: '/var/lib/colo-a/d0.img' });
    expect(drives(plan)).toEqual([
      'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/var/lib/colo-a/d0.img,children.0.driver=raw',
    ]);
    expect(plan.args).not.toContain('-incoming');
  });

  it('runs under its own runtimeDir', () => {
    expect(plan.runDir).toBe('/run/colo-a/vm1');
    expect(plan.qmpSocket).toBe('/run/colo-a/vm1/qmp.sock');
  });

  it('copies the disks at first protection unless the VM says assumeIdentical', () => {
    expect(plan.assumeIdentical).toBe(false);
    const doc = pairDoc();
    doc.vms[0].assumeIdentical = true;
    expect(planVm(config(doc), 'vm1', 'alpha', 'primary', false).assumeIdentical).toBe(true);
  });
});

describe('planVm: accelerator and machine', () => {
  it('auto without usable KVM runs machine none under TCG with no -smp', () => {
    const plan = planVm(config(), 'vm1', 'alpha', 'primary', false);
    expect(plan.accel).toBe('tcg');
    expect(optionValue(plan.args, '-machine')).toBe('none,accel=tcg');
    expect(plan.args).not.toContain('-smp');
  });

  it('auto with usable KVM runs pc under KVM with one vCPU', () => {
    const plan = planVm(config(), 'vm1', 'beta', 'secondary', true);
    expect(plan.accel).toBe('kvm');
    expect(optionValue(plan.args, '-machine')).toBe('pc,accel=kvm');
    expect(optionValue(plan.args, '-smp')).toBe('1');
  });

  it('honours explicit q35 with 2 vCPUs under KVM', () => {
    const plan = planVm(config(pairDoc([COLO_DISK0], { type: 'q35', accelerator: 'kvm', vcpus: 2 })), 'vm1', 'alpha', 'primary', true);
    expect(optionValue(plan.args, '-machine')).toBe('q35,accel=kvm');
    expect(optionValue(plan.args, '-smp')).toBe('2');
  });

  it('refuses an explicit kvm accelerator when KVM is not usable', () => {
    const cfg = config(pairDoc([COLO_DISK0], { accelerator: 'kvm' }));
    expect(() => planVm(cfg, 'vm1', 'alpha', 'primary', false)).toThrow(ConfigError);
  });
});

describe('planVm: several disks', () => {
  const cfg = config(pairDoc([COLO_DISK0, COLO_DISK1]));

  it('suffixes ids with the disk index on the secondary', () => {
    const plan = planVm(cfg, 'vm1', 'beta', 'secondary', false);
    expect(plan.disks.map((d) => d.ids.top)).toEqual(['colo-disk0', 'colo-disk1']);
    const ids = drives(plan).map((d) => /(?:^|,)id=([^,]+)/.exec(d)?.[1]);
    expect(ids).toEqual(['parent0', 'childs0', 'colo-disk0', 'parent1', 'childs1', 'colo-disk1']);
    expect(plan.disks[1]).toMatchObject({
      imagePath: '/srv/shared/d1.img',
      activePath: '/var/lib/colo-b/a1.qcow2',
      exportName: 'd1',
    });
    expect(plan.nbd).toEqual({ host: '127.0.0.1', port: 9101 });
  });

  it('keeps an absolute image path as it is on the primary too', () => {
    const plan = planVm(cfg, 'vm1', 'alpha', 'primary', false);
    expect(drives(plan)).toHaveLength(2);
    expect(drives(plan)[1]).toContain('id=colo-disk1');
    expect(drives(plan)[1]).toContain('children.0.file.filename=/srv/shared/d1.img');
  });

  it('plans a non-COLO disk as plain with no NBD server', () => {
    const plan = planVm(config(pairDoc(['target=plain.img'])), 'vm1', 'beta', 'secondary', false);
    expect(plan.disks[0]?.layout).toBe('plain');
    expect(plan.nbd).toBeNull();
    expect(drives(plan)).toEqual(['if=none,id=colo-disk0,driver=raw,file.driver=file,file.filename=/var/lib/colo-b/plain.img']);
  });
});

describe('planVm: addresses come from the planned node, not the config colo-params host', () => {
  it('a node taking the secondary role after a failover listens and serves NBD on its own address', () => {
    const doc = pairDoc(['target=d0.img,colo,colo-params=10.0.0.2:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2']);
    doc.nodes[0].address = '10.0.0.1';
    doc.nodes[1].address = '10.0.0.2';
    const plan = planVm(config(doc), 'vm1', 'alpha', 'secondary', false);
    expect(plan.migrationUri).toBe('tcp:10.0.0.1:9100');
    expect(plan.relay?.listen).toEqual({ host: '10.0.0.1', port: 9100 });
    expect(plan.nbd).toEqual({ host: '10.0.0.1', port: 9101 });
    expect(plan.disks[0]?.imagePath).toBe('/var/lib/colo-a/d0.img');
  });
});

describe('planVm: lookups', () => {
  it('refuses an unknown node or VM with a ConfigError', () => {
    expect(() => planVm(config(), 'vm1', 'gamma', 'primary', false)).toThrow(/gamma/);
    expect(() => planVm(config(), 'vm9', 'alpha', 'primary', false)).toThrow(ConfigError);
  });
});

describe('startKindFor', () => {
  it('starts a secondary as a COLO incoming and a primary cold', () => {
    expect(startKindFor('secondary')).toBe('colo-incoming');
    expect(startKindFor('primary')).toBe('cold');
  });
});
