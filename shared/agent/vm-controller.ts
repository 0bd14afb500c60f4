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
import { readinessRequestSchema, subjects, type Bus, type NodeStatus, type Unsubscribe } from '../nats/index.js';
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
    const translate = coloEventTranslator();
    this.cleanups.push(
      vm.qmp.onEvent((e) => {
        const signal = translate(e);
        if (signal) this.actor.send(signal);
        if (e.event === 'STOP' || e.event === 'RESUME' || e.event === 'COLO_EXIT') {
          this.live = { ...this.live, runState: e.event === 'STOP' ? 'paused' : 'running' };
        }
      }),
    );
    void vm.proc.exited.then(() => {
      this.live = { ...this.live, qemuPid: null, runState: null, coloMode: null };
      if (!this.stopping) this.actor.send({ type: 'QEMU_EXITED', reason: errorMessage(vm.proc.exitError()) });
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
        this.transitions = [...this.transitions, record].slice(-MAX_TRANSITIONS);
        const level = snap.hasTag('degraded') ? 'warn' : 'info';
        this.log[level]({ machine: 'checkpoint', from: record.from, to, reason: record.reason }, 'transition');
        previous = to;
        void this.refreshLive().then(() => this.publishStatus());
      },
      error: (e) => this.log.error({ reason: errorMessage(e) }, 'checkpoint machine crashed'),
    });
    this.cleanups.push(
      bus.serve(subjects.rpc(config.pair, this.plan.vm, nodeName, 'readiness'), readinessRequestSchema, async (req) => {
        const snap = this.actor.getSnapshot();
        const sizes = this.coloSizes ?? new Map<number, number>();
        try {
          return readinessReply(this.plan, this.plan.role === 'secondary' && snap.hasTag('ready'), snap.context.reason, sizes, req);
        } catch (e) {
          this.log.warn({ reason: errorMessage(e) }, 'refused the primary');
          this.actor.send({ type: 'PRIMARY_REFUSED', reason: errorMessage(e) });
          throw e;
        }
      }),
    );
    this.timers.push(setInterval(() => void this.refreshLive(), LIVE_POLL_MS));
    this.timers.push(setInterval(() => this.publishStatus(), STATUS_PUBLISH_MS));
    this.actor.start();
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
    return toNodeStatus(this.actor.getSnapshot(), this.live, { epoch: 0, transitions: this.transitions }, now);
  }

  private publishStatus(): void {
    if (this.stopping) return;
    const { config, nodeName, bus } = this.d;
    bus.publish(subjects.status(config.pair, this.plan.vm, nodeName), this.status());
  }

  async statusFresh(): Promise<NodeStatus> {
    await this.refreshLive();
    return this.status();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.cleanups.splice(0)) c();
    this.actor.stop();
    await this.vm?.stop();
  }
}

function fromPromiseActor<T, I = unknown>(body: (args: { input: I; signal: AbortSignal }) => Promise<T>) {
  return fromPromise<T, I>(({ input, signal }) => body({ input, signal }));
}
