import { createActor, fromPromise, type Actor } from 'xstate';
import {
  attachReplication,
  awaitPeerReady,
  primaryDiskSizes,
  startMigration,
} from '../../primary/index.js';
import { exportDisks, prepareOverlays, coloDiskSizes, readinessReply } from '../../secondary/index.js';
import {
  checkpointMachine,
  stallBoundMs,
  toNodeStatus,
  phaseOf,
  type LiveQemu,
  type PeerEndpoints,
  type TransitionRecord,
} from '../../state-machines/index.js';
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { kvKeys, subjects, type Bus, type DrillReply, type DrillRequest, type KvStore, type NodeStatus, type ReadinessReply, type ReadinessRequest, type Unsubscribe } from '../nats/index.js';
import { createLease } from '../lease/index.js';
import { FailoverController } from './failover-controller.js';
import { QemuLiveness } from './qemu-liveness.js';
import { qemuIo } from './qemu-io.js';
import { StatusPublisher } from './status-publisher.js';
import { serveVmRpc } from './vm-rpc.js';
import { awaitColoMode, findNode, launchVm, peerOf, planVm, type QemuImg, type VmInstance, type VmPlan } from '../qemu/index.js';
import { queryColoStatus, queryStatus } from '../qmp/index.js';
import { coloEventTranslator } from './qmp-events.js';

export interface VmControllerDeps {
  config: Config;
  nodeName: string;
  vmName: string;
  bus: Bus;
  img: QemuImg;
  qemuBinary: string;
  kvmUsable: boolean;
  kv: KvStore;
  statusKv: KvStore | null;
  log: Logger;
}

const LIVE_POLL_MS = 1_000;
const STATUS_PUBLISH_MS = 2_000;
const PEER_POLL_MS = 20;
const MAX_TRANSITIONS = 50;

/** Runs one VM on this node: its checkpoint machine, its qemu, its NATS endpoints. Independent of other VMs. */
export class VmController {
  private readonly log: Logger;
  private readonly plan: VmPlan;
  private readonly actor: Actor<typeof checkpointMachine>;
  private vm: VmInstance | null = null;
  private live: LiveQemu;
  private transitions: TransitionRecord[] = [];
  private coloSizes: Map<number, number> | null = null;
  private readonly cleanups: Unsubscribe[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  readonly failover: FailoverController;
  private readonly liveness: QemuLiveness;
  private readonly feed: StatusPublisher;

  constructor(private readonly d: VmControllerDeps) {
    const { config, nodeName, vmName } = d;
    const role = findNode(config, nodeName).initialRole;
    this.log = d.log.child({ vm: vmName, role });
    this.plan = planVm(config, vmName, nodeName, role, d.kvmUsable);
    this.live = { qemuPid: null, qmpSocket: this.plan.qmpSocket, runState: null, coloMode: null };
    const t = config.timings;
    this.actor = createActor(this.provideActors(), {
      input: {
        vm: vmName,
        node: nodeName,
        role,
        protectTimeoutMs: t.protectTimeoutMs,
        stallBoundMs: stallBoundMs(this.plan.checkpointDelayMs),
        retryDelayMs: 2_000,
      },
    });
    this.failover = new FailoverController({
      config,
      nodeName,
      peerName: peerOf(config, nodeName).name,
      plan: this.plan,
      bus: d.bus,
      lease: createLease({ kv: d.kv, key: kvKeys.lease(vmName), node: nodeName, ttlMs: t.leaseTtlMs }),
      log: this.log,
      role,
      vm: () => this.vm,
      onTransition: (record) => this.recordTransition('failover', record),
    });
    this.feed = new StatusPublisher({ bus: d.bus, kv: d.statusKv, pair: config.pair, vm: vmName, node: nodeName, log: this.log });
    this.liveness = new QemuLiveness({
      intervalMs: t.heartbeatIntervalMs,
      timeoutMs: Math.max(100, Math.floor(t.heartbeatTimeoutMs / 3)),
      oobTimeoutMs: 100,
      log: this.log,
      onHung: (vm, reason) => {
        // A frozen qemu must never wake up as a second live copy: kill it, then fail over as for a crash.
        this.log.error({ reason }, 'qemu hung: killing it');
        try {
          process.kill(vm.proc.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      },
    });
  }

  get vmName(): string {
    return this.plan.vm;
  }

  private call(signal?: AbortSignal, long = false) {
    const t = this.d.config.timings;
    return { timeoutMs: long ? t.qmpLongTimeoutMs : t.qmpTimeoutMs, signal };
  }

  private requireVm(): VmInstance {
    if (!this.vm) throw new Error('qemu is not running');
    return this.vm;
  }

  private provideActors() {
    const { config, nodeName, bus, img } = this.d;
    const plan = this.plan;
    return checkpointMachine.provide({
      actors: {
        prepareDisks: fromPromiseActor(async () => {
          await prepareOverlays(plan, img);
          this.coloSizes = await coloDiskSizes(plan, img);
        }),
        launchQemu: fromPromiseActor(async ({ signal }) => {
          if (plan.role === 'primary') await this.failover.claimForPrimary(signal);
          const vm = await launchVm({ binary: this.d.qemuBinary, plan, qmpTimeoutMs: config.timings.qmpTimeoutMs, log: this.log, signal });
          this.attachVm(vm);
          return { pid: vm.proc.pid };
        }),
        exportDisks: fromPromiseActor(({ signal }) => exportDisks(plan, this.requireVm().qmp, this.call(signal))),
        awaitPeerReady: fromPromiseActor(async ({ signal }) =>
          awaitPeerReady(bus, {
            pair: config.pair,
            vm: plan.vm,
            peerNode: peerOf(config, nodeName).name,
            disks: await primaryDiskSizes(plan, img),
            pollMs: PEER_POLL_MS,
            log: this.log,
            ...this.call(signal),
          }),
        ),
        attachReplication: fromPromiseActor<void, { vm: string; peer: PeerEndpoints }>(({ input, signal }) =>
          attachReplication(this.requireVm().qmp, plan, input.peer, this.call(signal)),
        ),
        startMigration: fromPromiseActor<void, { vm: string; peer: PeerEndpoints }>(({ input, signal }) =>
          startMigration(this.requireVm().qmp, plan, input.peer, this.call(signal)),
        ),
        awaitColo: fromPromiseActor(({ signal }) => awaitColoMode(this.requireVm().qmp, plan.role, { ...this.call(signal), pollMs: 5 })),
      },
    });
  }

  private attachVm(vm: VmInstance): void {
    this.vm = vm;
    this.live = { ...this.live, qemuPid: vm.proc.pid };
    this.failover.qemuStarted();
    this.liveness.watch(vm);
    const translate = coloEventTranslator();
    this.cleanups.push(
      vm.qmp.onEvent((e) => {
        const signal = translate(e);
        if (signal) this.actor.send(signal);
        if (e.event === 'COLO_EXIT' && e.data.reason === 'error') this.failover.coloFailed(signal?.type === 'COLO_EXITED' ? signal.reason : 'COLO_EXIT');
        if (e.event === 'STOP' || e.event === 'RESUME' || e.event === 'COLO_EXIT') {
          this.live = { ...this.live, runState: e.event === 'STOP' ? 'paused' : 'running' };
        }
      }),
    );
    // The monitor socket closes as the process dies, well before the exit is reaped: act on whichever comes first.
    void vm.qmp.closed.then(() => {
      if (!this.stopping && this.vm === vm) this.failover.qemuGone('qemu closed its monitor (process dying)');
    });
    void vm.proc.exited.then(() => {
      this.live = { ...this.live, qemuPid: null, runState: null, coloMode: null };
      if (this.stopping) return;
      const reason = errorMessage(vm.proc.exitError());
      this.failover.qemuGone(reason);
      this.actor.send({ type: 'QEMU_EXITED', reason });
    });
  }

  start(): void {
    const { config, nodeName, bus } = this.d;
    let previous: string | null = null;
    this.actor.subscribe({
      next: (snap) => {
        const to = phaseOf(snap.value);
        if (to === previous) return;
        const record = { at: Date.now(), from: previous ?? 'none', to, reason: snap.context.reason };
        const level = snap.hasTag('degraded') ? 'warn' : 'info';
        this.log[level]({ machine: 'checkpoint', from: record.from, to, reason: record.reason }, 'transition');
        previous = to;
        // Once COLO has run, the secondary's disk is a complete replica: from then on it may take over.
        if (to === 'coloRunning') this.failover.actor.send({ type: 'PROMOTABLE', value: true });
        this.recordTransition('checkpoint', record);
      },
      error: (e) => this.log.error({ reason: errorMessage(e) }, 'checkpoint machine crashed'),
    });
    this.cleanups.push(...serveVmRpc(bus, config.pair, this.plan.vm, nodeName, this));
    this.timers.push(setInterval(() => void this.refreshLive(), LIVE_POLL_MS));
    this.timers.push(setInterval(() => this.publishStatus(), STATUS_PUBLISH_MS));
    this.failover.start();
    this.actor.start();
  }

  private recordTransition(machine: 'checkpoint' | 'failover', record: TransitionRecord): void {
    this.transitions = [...this.transitions, record].slice(-MAX_TRANSITIONS);
    this.feed.transition(machine, record, this.failover.epoch);
    void this.refreshLive().then(() => this.publishStatus());
  }

  readiness(req: ReadinessRequest): ReadinessReply {
    const snap = this.actor.getSnapshot();
    const sizes = this.coloSizes ?? new Map<number, number>();
    const ready = this.plan.role === 'secondary' && snap.hasTag('ready') && this.failover.actor.getSnapshot().hasTag('watching');
    try {
      return readinessReply(this.plan, ready, snap.context.reason, sizes, req);
    } catch (e) {
      this.log.warn({ reason: errorMessage(e) }, 'refused the primary');
      this.actor.send({ type: 'PRIMARY_REFUSED', reason: errorMessage(e) });
      throw e;
    }
  }

  /** Drill: inject a fault on this side, as the operator asked. */
  drill(req: DrillRequest): DrillReply {
    const vm = this.vm;
    const faultAt = Date.now();
    this.log.warn({ mode: req.mode }, 'drill: injecting fault');
    if (req.mode === 'partition' || req.mode === 'heal') this.failover.partition(req.mode === 'partition');
    else {
      if (!vm || !vm.proc.isRunning) throw new Error('qemu is not running here');
      process.kill(vm.proc.pid, req.mode === 'crash' ? 'SIGKILL' : 'SIGSTOP');
    }
    return { node: this.d.nodeName, mode: req.mode, faultAt, epoch: this.failover.epoch };
  }

  /** Write a pattern through qemu-io; optionally wait until a checkpoint completed after it (what COLO promises to carry over). */
  async writePattern(byte: number, offset: number, length: number, awaitCheckpoint: boolean): Promise<{ ok: boolean; detail: string; checkpointCount: number }> {
    const vm = this.requireVm();
    const before = this.actor.getSnapshot().context.checkpoints.count;
    const res = await qemuIo(vm, this.plan.disks[0]!.ids.top, `write -P ${byte} ${offset} ${length}`, 5_000);
    if (!res.ok) return { ok: false, detail: res.lines.join(' | '), checkpointCount: before };
    if (awaitCheckpoint) {
      const deadline = Date.now() + 10_000;
      while (this.actor.getSnapshot().context.checkpoints.count <= before) {
        if (Date.now() > deadline) return { ok: false, detail: 'no checkpoint completed after the write', checkpointCount: before };
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    return { ok: true, detail: res.lines.join(' | '), checkpointCount: this.actor.getSnapshot().context.checkpoints.count };
  }

  async verifyPattern(byte: number, offset: number, length: number): Promise<{ ok: boolean; detail: string }> {
    const res = await qemuIo(this.requireVm(), this.plan.disks[0]!.ids.top, `read -P ${byte} ${offset} ${length}`, 5_000);
    return { ok: res.ok, detail: res.lines.join(' | ') };
  }

  /** Read run state and COLO mode from qemu: the live truth beats the config. */
  private async refreshLive(): Promise<void> {
    const vm = this.vm;
    if (!vm || !vm.proc.isRunning) return;
    try {
      const [st, colo] = await Promise.all([queryStatus(vm.qmp, { timeoutMs: 1_000 }), queryColoStatus(vm.qmp, { timeoutMs: 1_000 })]);
      if (this.vm === vm && vm.proc.isRunning) this.live = { ...this.live, runState: st.status, coloMode: colo.mode };
    } catch (e) {
      this.log.debug({ reason: errorMessage(e) }, 'live state read failed');
    }
  }

  /** A human-monitor command on this VM's qemu (qemu-io writes and reads for drills and tests). */
  async hmp(commandLine: string): Promise<string> {
    return this.requireVm().qmp.hmp(commandLine, this.call());
  }

  status(now = Date.now()): NodeStatus {
    return toNodeStatus(
      this.actor.getSnapshot(),
      this.live,
      {
        epoch: this.failover.epoch,
        transitions: this.transitions,
        failover: this.failover.actor.getSnapshot(),
        natsConnected: this.d.bus.state === 'connected',
        heartbeatAgeMs: this.failover.heartbeat.isPeerAlive || this.failover.heartbeat.lastPeerBeat ? this.failover.heartbeat.peerAgeMs() : null,
      },
      now,
    );
  }

  private publishStatus(): void {
    if (this.stopping) return;
    this.feed.publish(this.status());
  }

  async statusFresh(): Promise<NodeStatus> {
    await this.refreshLive();
    return this.status();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.cleanups.splice(0)) c();
    this.liveness.stop();
    this.failover.stop();
    this.actor.stop();
    await this.vm?.stop();
  }
}

function fromPromiseActor<T, I = unknown>(body: (args: { input: I; signal: AbortSignal }) => Promise<T>) {
  return fromPromise<T, I>(({ input, signal }) => body({ input, signal }));
}
