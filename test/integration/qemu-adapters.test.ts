import { mkdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { findRelay } from '../../shared/relay/index.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { QemuExitedError, QmpCommandError, QmpConnectionError } from '../../shared/errors.js';
import { freePorts } from '../../shared/local/index.js';
import { silentLogger } from '../../shared/log.js';
import {
  launchVm,
  planVm,
  qemuImg,
  resolveAccelerator,
  resolveMachineType,
  stopQemu,
  type VmPlan,
} from '../../shared/qemu/index.js';
import { queryStatus, type QmpClient, type QmpEvent } from '../../shared/qmp/index.js';
import { kvmForTests } from '../helpers/pair.js';
import { coloDiskSpec, killQemuUnder, nodeImageDir, plainDiskSpec, QEMU, qemuPidsUnder, startVm, vmTestConfig } from '../helpers/qemu-vm.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const MiB = 1024 * 1024;
const SIZE = 4 * MiB;
type Kind = 'plain' | 'primary' | 'secondary';

/** A plan for vm1 in the given layout, with its images (and, for a secondary, overlays at the parent's size) created. */
async function layoutPlan(dir: string, kind: Kind, diskCount = 1, withImages = true): Promise<{ plan: VmPlan; migrationPort: number }> {
  const [migrationPort, nbdPort] = await freePorts(2);
  const disks = Array.from({ length: diskCount }, (_, i) => (kind === 'plain' ? plainDiskSpec(i) : coloDiskSpec(i, nbdPort!)));
  const config = vmTestConfig(dir, { disks, migrationPort: migrationPort! });
  const node = kind === 'secondary' ? 'beta' : 'alpha';
  const plan = planVm(config, 'vm1', node, kind === 'secondary' ? 'secondary' : 'primary', kvmForTests());
  mkdirSync(nodeImageDir(dir, node), { recursive: true });
  const img = qemuImg();
  for (const d of withImages ? plan.disks : []) {
    await img.create(d.imagePath, 'raw', SIZE);
    if (kind === 'secondary') {
      await img.create(d.activePath!, 'qcow2', SIZE);
      await img.create(d.hiddenPath!, 'qcow2', SIZE);
    }
  }
  return { plan, migrationPort: migrationPort! };
}

interface BlockInfo { device: string; inserted?: { drv: string; 'node-name': string } }
interface NamedNode { 'node-name': string; drv: string; file: string }
interface Graph { nodes: { id: number; type: string; name: string }[]; edges: { parent: number; child: number; name: string }[] }

/** What qemu itself reports about its block graph: devices with their top driver, and node edges. */
async function blockView(qmp: QmpClient) {
  const blocks = (await qmp.execute('query-block')) as BlockInfo[];
  const named = (await qmp.execute('query-named-block-nodes')) as NamedNode[];
  const graph = (await qmp.execute('x-debug-query-block-graph')) as Graph;
  const node = (name: string | undefined): NamedNode => {
    const n = named.find((x) => x['node-name'] === name);
    if (!n) throw new Error(`no block node ${name}`);
    return n;
  };
  const idOf = (name: string): number | undefined => graph.nodes.find((n) => n.type === 'block-driver' && n.name === name)?.id;
  return {
    devices: Object.fromEntries(blocks.map((b) => [b.device, b.inserted?.drv])),
    root: (device: string) => node(blocks.find((b) => b.device === device)?.inserted?.['node-name']),
    child: (parent: NamedNode, edge: string) => {
      const e = graph.edges.find((x) => x.parent === idOf(parent['node-name']) && x.name === edge);
      return node(graph.nodes.find((n) => n.id === e?.child)?.name);
    },
  };
}

describe('drive layouts on real qemu', () => {
  const accel = resolveAccelerator('auto', kvmForTests());
  // vmTestConfig's VM is drive-only (machine none) on every accelerator.
  const machine = resolveMachineType('none', accel, 0);

  it.each([
    ['plain', 1],
    ['primary', 1],
    ['secondary', 1],
    ['secondary', 2],
  ] as const)('%s layout with %i disk(s) boots and has the documented block graph', async (kind, diskCount) => {
    const dir = tmpRun(`layout-${kind}-${diskCount}`);
    const { plan, migrationPort } = await layoutPlan(dir, kind, diskCount);
    expect(plan.accel).toBe(accel);
    expect(plan.disks.map((d) => d.layout)).toEqual(plan.disks.map(() => kind));
    const vm = await startVm(dir, plan);
    expect(readFileSync(`/proc/${vm.proc.pid}/cmdline`, 'utf8')).toContain(`${machine.machineType},accel=${accel}`);

    const view = await blockView(vm.qmp);
    const expected: Record<string, string> = {};
    for (const d of plan.disks) {
      const top = view.root(d.ids.top);
      if (kind === 'plain') {
        expected[d.ids.top] = 'raw';
        expect(view.child(top, 'file')).toMatchObject({ drv: 'file', file: d.imagePath });
      } else if (kind === 'primary') {
        expected[d.ids.top] = 'quorum';
        const image = view.child(top, 'children.0');
        expect(image.drv).toBe('raw');
        expect(view.child(image, 'file')).toMatchObject({ drv: 'file', file: d.imagePath });
      } else {
        Object.assign(expected, { [d.ids.top]: 'quorum', [d.ids.child]: 'replication', [d.ids.parent]: 'raw' });
        // quorum -> replication (childs) -> active qcow2 -> hidden qcow2 -> parent raw -> image file
        const replication = view.child(top, 'children.0');
        expect(replication).toEqual(view.root(d.ids.child));
        const active = view.child(replication, 'file');
        expect(active.drv).toBe('qcow2');
        expect(view.child(active, 'file')).toMatchObject({ drv: 'file', file: d.activePath });
        const hidden = view.child(active, 'backing');
        expect(hidden.drv).toBe('qcow2');
        expect(view.child(hidden, 'file')).toMatchObject({ drv: 'file', file: d.hiddenPath });
        expect(view.child(hidden, 'backing')).toEqual(view.root(d.ids.parent));
        expect(view.child(view.root(d.ids.parent), 'file')).toMatchObject({ drv: 'file', file: d.imagePath });
      }
    }
    expect(view.devices).toEqual(expected);
    if (diskCount === 2) expect(Object.keys(view.devices)).toEqual(expect.arrayContaining(['colo-disk0', 'colo-disk1']));

    const status = await queryStatus(vm.qmp);
    if (kind === 'secondary') {
      // Waiting for the COLO stream on its unix socket, behind the relay listening on the planned TCP port.
      expect(plan.args.slice(-2)).toEqual(['-incoming', `unix:${plan.relay!.incomingSocket}`]);
      expect(status.status).toBe('inmigrate');
      const hexPort = migrationPort.toString(16).toUpperCase().padStart(4, '0');
      await waitFor(() => new RegExp(`0100007F:${hexPort} 00000000:0000 0A`).test(readFileSync('/proc/net/tcp', 'utf8')), { timeoutMs: 5_000, what: `the relay listening on ${migrationPort}` });
      expect(findRelay(plan.runDir, 'secondary', plan.relay!.incomingSocket)).not.toBeNull();
    } else {
      expect(plan.args).not.toContain('-incoming');
      expect(status).toEqual({ running: true, status: 'running' });
    }
  });
});

describe('QMP client against real qemu', () => {
  it('streams STOP/RESUME events, maps errors, and uses the OOB monitor for yank', async () => {
    const dir = tmpRun('qmp-client');
    const vm = await startVm(dir, (await layoutPlan(dir, 'plain')).plan);

    const ac = new AbortController();
    const seen: QmpEvent[] = [];
    const collecting = (async () => {
      for await (const e of vm.qmp.events(ac.signal)) {
        if (e.event === 'STOP' || e.event === 'RESUME') seen.push(e);
        if (e.event === 'RESUME') break;
      }
    })();
    const wallBefore = Date.now() / 1000;
    await vm.qmp.execute('stop');
    expect(await queryStatus(vm.qmp)).toEqual({ running: false, status: 'paused' });
    await vm.qmp.execute('cont');
    const timer = setTimeout(() => ac.abort(), 5_000);
    await collecting;
    clearTimeout(timer);
    expect(seen.map((e) => e.event)).toEqual(['STOP', 'RESUME']);
    const [stop, resume] = seen as [QmpEvent, QmpEvent];
    expect(stop.timestamp.seconds).toBeGreaterThanOrEqual(Math.floor(wallBefore) - 1);
    expect(stop.timestamp.seconds).toBeLessThanOrEqual(Date.now() / 1000 + 1);
    const usec = (e: QmpEvent) => e.timestamp.seconds * 1e6 + e.timestamp.microseconds;
    expect(usec(resume)).toBeGreaterThanOrEqual(usec(stop));
    expect(resume.receivedAtMs).toBeGreaterThanOrEqual(stop.receivedAtMs);

    const bad = await vm.qmp.execute('no-such-command').catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(QmpCommandError);
    expect(bad).toMatchObject({ command: 'no-such-command', errorClass: 'CommandNotFound' });
    expect((await queryStatus(vm.qmp)).running).toBe(true); // the client survives an error reply

    // The OOB monitor negotiated `oob`: yank runs out-of-band; a non-OOB command is refused as such.
    await expect(vm.oob.executeOob('yank', { instances: [] })).resolves.toEqual({});
    await expect(vm.oob.executeOob('query-status')).rejects.toThrow(/does not support OOB/);
    // The main monitor did not negotiate it, so qemu rejects exec-oob there: the capability is what differs.
    await expect(vm.qmp.executeOob('yank', { instances: [] })).rejects.toThrow(/exec-oob.*unexpected/);
  });

  it('SIGKILL of qemu with a call pending rejects it, closes the client, and reports the signal', async () => {
    const dir = tmpRun('qmp-sigkill');
    const vm = await startVm(dir, (await layoutPlan(dir, 'plain')).plan);
    const events = (async () => {
      let n = 0;
      for await (const _ of vm.qmp.events()) n++;
      return n;
    })();
    // SIGSTOP first so the call is certainly pending (qemu cannot answer) when the SIGKILL lands.
    process.kill(vm.proc.pid, 'SIGSTOP');
    const pending = vm.qmp.execute('query-status', undefined, { timeoutMs: 30_000 });
    process.kill(vm.proc.pid, 'SIGKILL');

    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectionError);
    await vm.qmp.closed;
    await vm.oob.closed;
    expect(vm.qmp.isOpen).toBe(false);
    expect(typeof (await events)).toBe('number'); // the event stream ended instead of hanging
    expect(await vm.proc.exited).toEqual({ code: null, signal: 'SIGKILL' });
    expect(vm.proc.isRunning).toBe(false);
    const exitErr = vm.proc.exitError();
    expect(exitErr).toBeInstanceOf(QemuExitedError);
    expect(exitErr).toMatchObject({ signal: 'SIGKILL', code: null });
    expect(exitErr.message).toContain('signal SIGKILL');
    await expect(vm.qmp.execute('query-status')).rejects.toBeInstanceOf(QmpConnectionError);
  });
});

describe('stopQemu on real qemu', () => {
  it('quit stops a healthy qemu; SIGTERM stops it without quit', async () => {
    const dir = tmpRun('stop-quit');
    const { plan } = await layoutPlan(dir, 'plain');
    const vm = await startVm(dir, plan);
    const t0 = performance.now();
    await vm.stop(2_000);
    expect(performance.now() - t0).toBeLessThan(1_500);
    expect(await vm.proc.exited).toEqual({ code: 0, signal: null });

    const again = await startVm(dir, plan);
    const exit = await stopQemu(again.proc, { graceMs: 3_000 });
    // qemu handles SIGTERM itself and exits cleanly: the SIGKILL step was never needed.
    expect(exit).toEqual({ code: 0, signal: null });
    await waitFor(() => again.proc.outputTail().some((l) => /terminating on signal 15/.test(l)), { timeoutMs: 2_000, what: 'qemu SIGTERM message' });
  });

  it('a qemu that answers nothing (SIGSTOPped) is SIGKILLed within the grace; an exited one is success', async () => {
    const dir = tmpRun('stop-escalate');
    const vm = await startVm(dir, (await layoutPlan(dir, 'plain')).plan);
    process.kill(vm.proc.pid, 'SIGSTOP');
    let quitCalls = 0;
    const quit = () => (quitCalls++, vm.qmp.execute('quit', undefined, { timeoutMs: 300 }));
    const graceMs = 400;
    const t0 = performance.now();
    const exit = await stopQemu(vm.proc, { graceMs, quit });
    const took = performance.now() - t0;
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(quitCalls).toBe(1);
    // quit timeout (300) + grace after quit + grace after SIGTERM, then SIGKILL: bounded, not hung.
    expect(took).toBeGreaterThanOrEqual(2 * graceMs);
    expect(took).toBeLessThan(300 + 2 * graceMs + 1_500);
    expect(qemuPidsUnder(dir)).toEqual([]);

    const t1 = performance.now();
    await expect(stopQemu(vm.proc, { graceMs, quit })).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    expect(performance.now() - t1).toBeLessThan(100);
    expect(quitCalls).toBe(1); // no quit sent to a process that is gone
  });
});

describe('launchVm on bad arguments', () => {
  it('rejects fast with qemu own words and leaves no qemu running', async () => {
    const dir = tmpRun('launch-bad');
    onTestFinished(() => killQemuUnder(dir));
    // No image created: qemu itself refuses to open the drive.
    const { plan } = await layoutPlan(dir, 'plain', 1, false);
    const qmpTimeoutMs = 10_000;
    // Several rounds: the outcome must not depend on whether the monitor socket or the exit is seen first.
    for (let round = 0; round < 20; round++) {
      const t0 = performance.now();
      const err = await launchVm({ binary: QEMU, plan, qmpTimeoutMs, log: silentLogger() }).catch((e: unknown) => e);
      const took = performance.now() - t0;
      expect(qemuPidsUnder(dir)).toEqual([]);
      expect(took).toBeLessThan(qmpTimeoutMs / 4);
      // qemu's own reason, not a QMP connection error, whichever of socket close and process exit is seen first.
      expect(err, `round ${round}: ${String(err)}`).toBeInstanceOf(QemuExitedError);
      const exited = err as QemuExitedError;
      expect(exited.code).toBe(1);
      expect(exited.stderrTail.join('\n')).toContain(`Could not open '${plan.disks[0]!.imagePath}': No such file or directory`);
    }
  });
});
