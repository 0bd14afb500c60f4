import { createActor, waitFor, type Actor } from 'xstate';
import { VmRequests } from '../signals/vm-requests.js';
import type { vmMachine, VmEvent } from '../../state-machines/index.js';
import { createLease, type Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import { kvKeys, type NodeStatus, type Unsubscribe } from '../../shared/nats/index.js';
import { peerOf, planVm, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { drillHandlers, type DrillHandlers } from '../effects/drill.js';
import { FailoverSide } from '../effects/failover-side.js';
import { RestoreEffects } from '../effects/restore-actors.js';
import { LiveState } from '../reconcile/live-state.js';
import { ReplicationWatch } from '../signals/replication-watch.js';
import { ChildFollower } from './children.js';
import { QemuSlot } from './qemu-slot.js';
import { StatusPublisher } from './status-publisher.js';
import type { VmControllerDeps } from './vm-controller-deps.js';
import { VmFeed } from './vm-feed.js';
import { provideVmEffects, vmInputFor } from './vm-effects.js';
import { serveVmRpc } from './vm-rpc.js';
import { qmpCallWithin, type QmpCall } from '../../shared/qmp/index.js';

export type { VmControllerDeps } from './vm-controller-deps.js';

/** How often the survivor samples whether an automatic restore may start (a cheap in-memory check), while it runs alone. */
const RESTORE_CHECK_MS = 250;
/** A qemu this node gives up (rejoin, fenced after the peer took over) gets this long to quit before SIGKILL: its state is discarded anyway. */
const QEMU_STOP_GRACE_MS = 1_000;

/**
 * The runtime of one VM on this node: it creates the VM machine (which owns
 * the role and runs the protect, failover and restore children), provides
 * their effects, turns outside facts into its events and publishes the status.
 * It decides nothing about the lifecycle.
 */
export class VmController {
  readonly log: Logger;
  private readonly lease: Lease;
  private readonly peerName: string;
  private readonly machine: Actor<typeof vmMachine>;
  private side: FailoverSide | null = null;
  private planCache: { key: string; plan: VmPlan } | null = null;
  private coloSizes: Map<number, number> | null = null;
  private readonly restore: RestoreEffects;
  private readonly children: ChildFollower;
  private readonly view: VmFeed;
  private readonly qemu: QemuSlot;
  private readonly audit: ReplicationWatch;
  private readonly drills: DrillHandlers;
  private readonly cleanups: Unsubscribe[] = [];
  private timers: NodeJS.Timeout[] = [];
  private restoreSampler: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly d: VmControllerDeps) {
    const { config, nodeName, vmName } = d;
    this.peerName = peerOf(config, nodeName).name;
    this.log = d.log.child({ vm: vmName });
    const t = config.timings;
    this.lease = createLease({ kv: d.kv, key: kvKeys.lease(vmName), node: nodeName, ttlMs: t.leaseTtlMs });
    const initialPlan = planVm(config, vmName, nodeName, 'secondary', d.kvmUsable);
    const publisher = new StatusPublisher({ bus: d.bus, kv: d.statusKv, pair: config.pair, vm: vmName, node: nodeName, log: this.log });
    this.view = new VmFeed(
      { bus: d.bus, log: this.log, publisher, vm: () => this.qemu.vm, plan: () => this.plan(), protect: () => this.children.protectSnapshot(), failover: () => this.side ?? undefined, restore: () => this.children.restoreSnapshot(), stopping: () => this.stopping, role: () => this.machine.getSnapshot().context.role },
      initialPlan.qmpSocket,
    );
    this.audit = new ReplicationWatch({ config, kvmUsable: d.kvmUsable, log: this.log, vm: () => this.qemu.vm, plan: () => this.plan(), checkpoint: () => this.children.protect(), failover: () => this.side! });
    this.qemu = new QemuSlot({ log: this.log, timings: t, send: (event) => this.send(event), side: () => this.side, audit: this.audit, live: this.view.live, nics: this.view.nics, stopping: () => this.stopping });
    this.restore = new RestoreEffects({
      ...{ config, nodeName, peerName: this.peerName, bus: d.bus, img: d.img, log: this.log },
      plan: () => this.plan(),
      requireVm: () => this.requireVm(),
      epoch: () => this.side?.epoch ?? 0,
      verifyReplication: (signal) => this.audit.verify({ ...this.plan(), role: 'primary' }, signal),
      onRejoinRequested: () => this.side?.replicationAudited(true, 'resyncing a fresh secondary'),
      onLinking: () => this.audit.reset(),
      onProgress: (progress) => this.send({ type: 'RESYNC_PROGRESS', progress }),
    });
    this.machine = createActor(
      provideVmEffects({
        ...{ deps: d, peerName: this.peerName, lease: this.lease, log: this.log, restore: this.restore },
        context: () => this.machine.getSnapshot().context,
        plan: () => this.plan(),
        vm: () => this.qemu.vm,
        requireVm: () => this.requireVm(),
        side: () => this.side!,
        send: (event) => this.send(event),
        newSide: () => this.newSide(),
        attachVm: (vm, socket) => this.attachVm(vm, socket),
        resetForRejoin: () => this.resetForRejoin(),
        setColoSizes: (sizes) => void (this.coloSizes = sizes),
        onLinking: () => this.audit.reset(),
      }),
      { input: vmInputFor(config, vmName, this.peerName, initialPlan) },
    );
    this.children = new ChildFollower(this.machine, this.log, {
      failover: (child) => this.side?.start(child),
      protect: (record, tags) => {
        // A new protect child: failures qemu reported before it are about the old replication children.
        if (record.from === 'none') this.audit.reset();
        // Protected is proven from qemu: audit at once on entering COLO (protection, restore, adoption).
        if (tags.after.has('protected') && !tags.before.has('protected') && !tags.before.has('unreplicated')) void this.audit.run();
      },
      record: (machine, record, tags) => this.view.record(machine, record, tags),
    });
    this.drills = drillHandlers({
      ...{ node: nodeName, log: this.log, vm: () => this.qemu.vm, requireVm: () => this.requireVm(), plan: () => this.plan(), side: () => this.side! },
      checkpoints: () => this.children.protect()?.getSnapshot().context.checkpoints.count ?? 0,
    });
  }

  get vmName(): string {
    return this.d.vmName;
  }

  /** The failover side of the current failover child (tests and drills read its lease keeper and epoch). */
  get failover(): FailoverSide {
    return this.side!;
  }

  /** The VM as this node runs it now: qemu's layout, the VM machine's role. */
  plan(): VmPlan {
    const { role, layout } = this.machine.getSnapshot().context;
    const key = `${layout}/${role}`;
    if (this.planCache?.key !== key) {
      const plan = planVm(this.d.config, this.d.vmName, this.d.nodeName, layout, this.d.kvmUsable);
      this.planCache = { key, plan: { ...plan, role, relay: plan.relay && { ...plan.relay, binary: this.d.relayBinary } } };
    }
    return this.planCache.plan;
  }

  call(signal?: AbortSignal): QmpCall {
    return qmpCallWithin(this.d.config.timings.qmpTimeoutMs)(signal);
  }

  requireVm(): VmInstance {
    return this.qemu.require();
  }

  private send(event: VmEvent): void {
    this.machine.send(event);
  }

  /** A failover side for the failover child about to start (at start, and when rejoining as a fresh secondary). */
  private newSide(): void {
    this.side?.stop();
    this.side = new FailoverSide({
      ...{ config: this.d.config, nodeName: this.d.nodeName, peerName: this.peerName, bus: this.d.bus, lease: this.lease, log: this.log },
      ...{ plan: () => this.plan(), role: () => this.machine.getSnapshot().context.role, send: (event) => this.send(event) },
      snapshot: () => this.children.failover()?.getSnapshot(),
      lastCheckpointAt: () => this.children.protect()?.getSnapshot().context.checkpoints.lastAt ?? null,
      onTransition: (record, tags) => this.view.record('failover', record, tags),
      onLeaseUnconfirmed: () => this.view.publish(),
      stopFencedQemu: () => void this.qemu.vm?.stop(QEMU_STOP_GRACE_MS),
    });
  }

  async start(): Promise<void> {
    const requests = new VmRequests({
      ...{ node: this.d.nodeName, peer: this.peerName, log: this.log, machine: this.machine, restore: this.restore },
      ...{ side: () => this.side, vm: () => this.qemu.vm, plan: () => this.plan(), protect: () => this.children.protect(), coloSizes: () => this.coloSizes },
    });
    this.cleanups.push(...serveVmRpc(this.d.bus, this.d.config.pair, this.vmName, this.d.nodeName, { ...requests, writePattern: this.drills.writePattern }, this.drills));
    this.cleanups.push(this.view.beat());
    this.timers.push(setInterval(() => void this.audit.run(), this.d.config.timings.auditIntervalMs));
    // A crash of the machine is reported by its own follower; this one only stops sampling.
    const sampling = this.machine.subscribe({ next: (snap) => this.sampleRestoreFactsWhile(snap.context.failover.alone), error: () => this.sampleRestoreFactsWhile(false) });
    this.cleanups.push(() => sampling.unsubscribe());
    this.machine.start();
    this.sampleRestoreFactsWhile(this.machine.getSnapshot().context.failover.alone);
    const s = await waitFor(this.machine, (snap) => !snap.matches('reconciling'), { timeout: Infinity });
    if (s.matches('broken')) throw new Error(s.context.reason);
  }

  private attachVm(vm: VmInstance, qmpSocket: string): void {
    this.cleanups.push(this.qemu.attach(vm, qmpSocket));
  }

  /**
   * The machine starts an automatic restore only while this node runs alone (its guard asks that first),
   * so the facts are sampled only then: no timer wake-up four times a second while the pair is protected.
   */
  private sampleRestoreFactsWhile(alone: boolean): void {
    if (alone && !this.restoreSampler && !this.stopping) this.restoreSampler = setInterval(() => this.sampleRestoreFacts(), RESTORE_CHECK_MS);
    else if (!alone && this.restoreSampler) {
      clearInterval(this.restoreSampler);
      this.restoreSampler = null;
    }
  }

  /** The facts an automatic restore waits for, sampled for the VM machine to decide on. */
  private sampleRestoreFacts(): void {
    if (this.side) this.send({ type: 'AUTO_RESTORE_CHECK', peerAgentAlive: this.side.heartbeat.isPeerAgentAlive(), leaseHeld: this.lease.isHeldLocally() });
  }

  /** The children are stopped already (the VM machine left `running`): stop the old qemu, then a fresh failover side. */
  private async resetForRejoin(): Promise<void> {
    await this.qemu.release(QEMU_STOP_GRACE_MS);
    this.view.live.reset(planVm(this.d.config, this.d.vmName, this.d.nodeName, 'secondary', this.d.kvmUsable).qmpSocket);
    this.coloSizes = null;
    this.newSide();
  }

  /** A human-monitor command on this VM's qemu (qemu-io in tests and drills). */
  hmp = (commandLine: string): Promise<string> => this.requireVm().qmp.hmp(commandLine, this.call());
  /** Drill faults and test patterns; tests write patterns directly. */
  writePattern: DrillHandlers['writePattern'] = (...args) => this.drills.writePattern(...args);

  status = (now = Date.now()): NodeStatus => this.view.status(now);
  statusFresh = (): Promise<NodeStatus> => this.view.fresh();

  /** Watchdog health: qemu (when it should be running) answers its monitor. */
  healthy = (): Promise<boolean> => LiveState.answers(this.qemu.vm);

  /** Leave the VM running for the next agent to adopt: stop watching, close the monitors, change nothing in qemu. */
  detach = (): Promise<void> => this.shutdown(false);
  stop = (): Promise<void> => this.shutdown(true);

  private async shutdown(stopVm: boolean): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.sampleRestoreFactsWhile(false);
    for (const c of this.cleanups.splice(0)) c();
    this.side?.stop();
    this.children.stop();
    this.machine.stop();
    await this.qemu.shutdown(stopVm);
  }
}

