/**
 * The NIC kind's argv and QMP sequences on real qemu (TCG, `-machine none`,
 * model `none`: a socket netdev with a hub port as its peer), two qemus on
 * loopback: the secondary starts with its proxy on the command line, the
 * primary attaches through the project's QMP client, an inbound datagram is
 * mirrored to the secondary, carryOn and takeOver remove what they own, and
 * the survivor as the new primary inserts its filters before its rewriter.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdirSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { Config } from '../../shared/config/index.js';
import type { ReplicationPeer } from '../../shared/device/index.js';
import { freePorts } from '../../shared/local/index.js';
import { nicDevice, planNic, type NicConfig, type NicDevice } from '../../shared/nic/index.js';
import { planVm, qemuImg, type VmInstance } from '../../shared/qemu/index.js';
import { runQmpSteps, type QmpClient } from '../../shared/qmp/index.js';
import { kvmForTests } from '../helpers/pair.js';
import { nodeImageDir, plainDiskSpec, startVm, vmTestConfig, type TestNode } from '../helpers/qemu-vm.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const CALL = { timeoutMs: 5_000 };
const PRIMARY_SIDE = ['m0', 'redire0a', 'redire0b', 'comp0', 'iothread0'];
const PRIMARY_CHARDEVS = ['mirror0', 'compare0', 'primin0', 'primin0c', 'compout0', 'compout0c'];
const SECONDARY_SIDE = ['sredire0a', 'sredire0b', 'rew0'];
const SECONDARY_CHARDEVS = ['smirror0', 'scompare0'];

async function objects(qmp: QmpClient): Promise<string[]> {
  const list = (await qmp.execute('qom-list', { path: '/objects' }, CALL)) as Array<{ name: string }>;
  return list.map((o) => o.name).filter((n) => n !== 'type');
}

async function chardevs(qmp: QmpClient): Promise<Map<string, string>> {
  const list = (await qmp.execute('query-chardev', undefined, CALL)) as Array<{ label: string; filename: string }>;
  return new Map(list.map((c) => [c.label, c.filename]));
}

/** A listening socket chardev reads `disconnected:tcp:...` until its client connects. */
async function bothConnected(qmp: QmpClient): Promise<boolean> {
  const c = await chardevs(qmp);
  return SECONDARY_CHARDEVS.every((id) => c.has(id) && !c.get(id)!.startsWith('disconnected'));
}

/** The netdev's filters in chain order, as `info network` lists them. */
async function filterChain(qmp: QmpClient): Promise<string[]> {
  const text = await qmp.hmp('info network', CALL);
  return [...text.matchAll(/^\s+- (\S+): type=/gm)].map((m) => m[1]!);
}

async function udpSocket(port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  onTestFinished(() => new Promise<void>((done) => s.close(() => done())));
  await new Promise<void>((done) => s.bind(port, '127.0.0.1', () => done()));
  return s;
}

interface Ports {
  migration: number;
  mirror: number;
  compare: number;
  /** Per node: its socket netdev's local port, and where it sends. */
  netdev: Record<TestNode, { local: number; remote: number }>;
  /** Secondary: a second hub member that sends what reaches the hub to the test. */
  observer: { local: number; remote: number };
}

function nicOf(ports: Ports, node: TestNode): NicConfig {
  const n = ports.netdev[node];
  return {
    model: 'none',
    mac: '52:54:00:00:0c:01',
    netdev: { type: 'socket', udp: `127.0.0.1:${n.remote}`, localaddr: `127.0.0.1:${n.local}` },
    proxy: { mirrorPort: ports.mirror, comparePort: ports.compare },
  };
}

async function startNode(dir: string, config: Config, ports: Ports, node: TestNode, role: 'primary' | 'secondary'): Promise<{ vm: VmInstance; nic: NicDevice }> {
  const plan = planVm(config, 'vm1', node, role, kvmForTests());
  mkdirSync(nodeImageDir(dir, node), { recursive: true });
  for (const d of plan.disks) await qemuImg().create(d.imagePath, 'raw', 1024 * 1024);
  const nic = nicDevice(planNic(nicOf(ports, node), 0, { role, holdsRewriter: role === 'secondary', listenHost: '127.0.0.1' }));
  const { local, remote } = ports.observer;
  const observer = role === 'secondary' ? ['-netdev', `socket,id=obs,udp=127.0.0.1:${remote},localaddr=127.0.0.1:${local}`, '-netdev', 'hubport,id=hpobs,hubid=0,netdev=obs'] : [];
  // qemu's net layer holds packets while the VM is not running, and an incoming qemu runs only once
  // COLO starts, which this test does not drive: the secondary runs without -incoming, its proxy argv unchanged.
  const args = plan.args.filter((a, i, all) => a !== '-incoming' && all[i - 1] !== '-incoming');
  const vm = await startVm(dir, { ...plan, args: [...args, ...nic.argv(), ...observer] });
  return { vm, nic };
}

describe('the COLO network proxy on real qemu', () => {
  it('secondary argv, primary attach, mirroring, carryOn, takeOver and re-attach before the kept rewriter', async () => {
    const dir = tmpRun('nic-proxy');
    const [migration, mirror, compare, aLocal, aRemote, bLocal, bRemote, oLocal, oRemote] = await freePorts(9);
    const ports: Ports = {
      migration: migration!,
      mirror: mirror!,
      compare: compare!,
      netdev: { alpha: { local: aLocal!, remote: aRemote! }, beta: { local: bLocal!, remote: bRemote! } },
      observer: { local: oLocal!, remote: oRemote! },
    };
    const config = vmTestConfig(dir, { disks: [plainDiskSpec(0)], migrationPort: ports.migration });
    const peer: ReplicationPeer = { node: 'beta', nbd: { host: '127.0.0.1', port: 1 }, disks: [] };

    const secondary = await startNode(dir, config, ports, 'beta', 'secondary');
    const primary = await startNode(dir, config, ports, 'alpha', 'primary');
    expect(await objects(secondary.vm.qmp)).toEqual(expect.arrayContaining(SECONDARY_SIDE));
    expect(await filterChain(secondary.vm.qmp)).toEqual(SECONDARY_SIDE);
    expect(await filterChain(primary.vm.qmp)).toEqual([]);

    await runQmpSteps(primary.vm.qmp, primary.nic.primary.attach(peer), CALL);
    expect(await objects(primary.vm.qmp)).toEqual(expect.arrayContaining(PRIMARY_SIDE));
    expect(await filterChain(primary.vm.qmp)).toEqual(['m0', 'redire0a', 'redire0b']);
    await waitFor(() => bothConnected(secondary.vm.qmp), { timeoutMs: 5_000, what: "the secondary's proxy chardevs connected" });

    // A datagram arriving at the primary's netdev is mirrored, injected on the secondary's netdev and reaches its hub.
    const observer = await udpSocket(ports.observer.remote);
    const received = new Promise<Buffer>((done, fail) => {
      observer.once('message', (m) => done(m));
      setTimeout(() => fail(new Error('no mirrored datagram within 5 s')), 5_000).unref();
    });
    const sender = await udpSocket();
    sender.send(Buffer.from('colo-ft mirrored frame'), ports.netdev.alpha.local, '127.0.0.1');
    expect((await received).toString()).toBe('colo-ft mirrored frame');

    await runQmpSteps(primary.vm.qmp, primary.nic.primary.carryOn(), CALL);
    expect((await objects(primary.vm.qmp)).filter((o) => PRIMARY_SIDE.includes(o))).toEqual([]);
    expect([...(await chardevs(primary.vm.qmp)).keys()].filter((c) => PRIMARY_CHARDEVS.includes(c))).toEqual([]);
    // Everything already gone: each step's refusal means "already so".
    await runQmpSteps(primary.vm.qmp, primary.nic.primary.cleanUp(), CALL);
    await primary.vm.stop();

    await runQmpSteps(secondary.vm.qmp, secondary.nic.secondary.takeOver(), CALL);
    expect(await filterChain(secondary.vm.qmp)).toEqual(['rew0']);
    expect([...(await chardevs(secondary.vm.qmp)).keys()].filter((c) => SECONDARY_CHARDEVS.includes(c))).toEqual([]);
    await runQmpSteps(secondary.vm.qmp, secondary.nic.secondary.takeOver(), CALL);

    // Restore: a fresh secondary on alpha; the survivor, holding rew0, attaches before it.
    const fresh = await startNode(dir, config, ports, 'alpha', 'secondary');
    await runQmpSteps(secondary.vm.qmp, secondary.nic.primary.attach(peer), CALL);
    expect(await filterChain(secondary.vm.qmp)).toEqual(['m0', 'redire0a', 'redire0b', 'rew0']);
    await waitFor(() => bothConnected(fresh.vm.qmp), { timeoutMs: 5_000, what: "the fresh secondary's proxy chardevs connected" });
    await runQmpSteps(secondary.vm.qmp, secondary.nic.primary.carryOn(), CALL);
    expect(await filterChain(secondary.vm.qmp)).toEqual(['rew0']);
  }, 60_000);
});
