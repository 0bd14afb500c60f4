import type { Actor } from 'xstate';
import { readinessReply } from '../../secondary/index.js';
import { readyAsSecondary, rejoinRefusal, restoreRefusal, shouldAutoRestore, wrongRestoreTarget, type checkpointMachine, type TransitionRecord } from '../../state-machines/index.js';
import { errorMessage } from '../../shared/errors.js';
import { createLease, type Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { AcceptedReply, NodeStatus, ReadinessReply, ReadinessRequest, RejoinRequest, RestoreRequest, Unsubscribe } from '../../shared/nats/index.js';
import { kvKeys } from '../../shared/nats/index.js';
import { findNode, peerOf, planVm, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import type { VmControllerDeps } from './vm-controller-deps.js';
import { adoptRunningQemu, startupRole, type AdoptionHost } from '../reconcile/adoption.js';
import type { CheckpointHost } from '../effects/protect.js';
import { createProtectActor } from './protect-actor.js';
import { FailoverController } from '../effects/failover-controller.js';
import { QemuLiveness } from '../signals/qemu-liveness.js';
import { watchQemuSignals } from '../signals/qemu-signals.js';
import { RestoreRunner } from '../effects/restore-runner.js';
import { StatusPublisher } from './status-publisher.js';
import { VmFeed } from './vm-feed.js';
import { LiveState } from '../reconcile/live-state.js';
import { injectFault, verifyPattern, writePattern } from '../effects/drill.js';
import { ReplicationWatch } from '../signals/replication-watch.js';
import { serveVmRpc } from './vm-rpc.js';

export type { VmControllerDeps } from './vm-controller-deps.js';

type Role = 'primary' | 'secondary';
/** How often the status re-reads qemu (run state, COLO mode) between transitions; each transition reads it at once anyway. */
const LIVE_POLL_MS = 1_000;
/** The feed's steady beat: a status published on each transition, and at least this often (dashboards show its age). */
const STATUS_PUBLISH_MS = 2_000;
/** How often the survivor checks whether an automatic restore may start (a cheap in-memory check). */
const RESTORE_CHECK_MS = 250;
/** A qemu this node gives up (rejoin, fenced after the peer took over) gets this long to quit before SIGKILL: its state is discarded anyway. */
const QEMU_STOP_GRACE_MS = 1_000;

/**
 * Runs one VM on this node, independent of other VMs: its qemu, and the
 * checkpoint, failover and restore machines. Roles swap here: a secondary
 * that takes over becomes primary, a lost node rejoins as a fresh secondary.
 */
export class VmController {
  private readonly log: Logger;
  private readonly lease: Lease;
  private readonly peerName: string;
  private role: Role;
  private plan: VmPlan;
  private cp: Actor<typeof checkpointMachine> | null = null;
  private cpSub: { unsubscribe(): void } | null = null;
  failover!: FailoverController;
  private readonly restore: RestoreRunner;
  private vm: VmInstance | null = null;
  private readonly view: VmFeed;
  private coloSizes: Map<number, number> | null = null;
  private rejoinSizes: RejoinRequest['disks'] | null = null;
  private readonly cleanups: Unsubscribe[] = [];
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private readonly liveness: QemuLiveness;
  private readonly audit: ReplicationWatch;

  constructor(private readonly d: VmControllerDeps) {
    const { config, nodeName, vmName } = d;
    this.role = findNode(config, nodeName).initialRole;
    this.peerName = peerOf(config, nodeName).name;
    this.log = d.log.child({ vm: vmName });
    this.plan = planVm(config, vmName, nodeName, this.role, d.kvmUsable);
    const t = config.timings;
    this.lease = createLease({ kv: d.kv, key: kvKeys.lease(vmName), node: nodeName, ttlMs: t.leaseTtlMs });
    const publisher = new StatusPublisher({ bus: d.bus, kv: d.statusKv, pair: config.pair, vm: vmName, node: nodeName, log: this.log });
    this.view = new VmFeed(
      { bus: d.bus, log: this.log, publisher, vm: () => this.vm, protect: () => this.cp, failover: () => this.failover, restore: () => this.restore.snapshot(), stopping: () => this.stopping },
      this.plan.qmpSocket,
    );
    this.liveness = QemuLiveness.killingWhenHung(t, this.log);
    this.restore = new RestoreRunner({
      ...{ config, nodeName, peerName: this.peerName, bus: d.bus, img: d.img, log: this.log },
      plan: () => this.plan,
      requireVm: () => this.requireVm(),
      epoch: () => this.failover.epoch,
      onTransition: (r) => this.recordTransition('restore', r),
      onRestored: () => this.becomeProtectedPrimary(),
      verifyReplication: (signal) => this.audit.verify({ ...this.plan, role: 'primary' }, signal),
      ...{ onRejoinRequested: () => this.failover.replicationAudited(true, 'resyncing a fresh secondary'), onLinking: () => this.audit.reset() },
    });
    this.audit = new ReplicationWatch({ config, kvmUsable: d.kvmUsable, log: this.log, vm: () => this.vm, plan: () => this.plan, checkpoint: () => this.cp, failover: () => this.failover });
  }

  get vmName(): string { return this.plan.vm; }

  call = (signal?: AbortSignal) => ({ timeoutMs: this.d.config.timings.qmpTimeoutMs, signal });

  requireVm(): VmInstance {
    if (!this.vm || !this.vm.proc.isRunning) throw new Error('qemu is not running');
    return this.vm;
  }

  async start(): Promise<void> {
    const drills = {
      drill: (req: Parameters<typeof injectFault>[0]) => ({ ...injectFault(req, this.vm, this.failover, this.log), node: this.d.nodeName }),
      verifyPattern: (byte: number, offset: number, length: number) => verifyPattern(this.requireVm(), this.plan, { byte, offset, length }),
    };
    this.cleanups.push(...serveVmRpc(this.d.bus, this.d.config.pair, this.vmName, this.d.nodeName, this, drills));
    this.timers.push(setInterval(() => void this.refreshLive(), LIVE_POLL_MS));
    this.timers.push(setInterval(() => this.publishStatus(), STATUS_PUBLISH_MS));
    this.timers.push(setInterval(() => this.maybeRestore(), RESTORE_CHECK_MS));
    this.timers.push(setInterval(() => void this.audit.run(), this.d.config.timings.auditIntervalMs));
    if (await adoptRunningQemu(this.adoptionHost())) return;
    this.role = await startupRole(this.d.config, this.d.nodeName, this.lease, this.log);
    this.plan = planVm(this.d.config, this.vmName, this.d.nodeName, this.role, this.d.kvmUsable);
    this.failover = this.newFailover(this.role);
    this.startCheckpoint(false);
  }

  private adoptionHost(): AdoptionHost {
    return {
      config: this.d.config,
      nodeName: this.d.nodeName,
      vmName: this.vmName,
      kvmUsable: this.d.kvmUsable,
      lease: this.lease,
      log: this.log,
      begin: (role, plan) => {
        this.role = role;
        this.plan = plan;
        this.failover = this.newFailover(role);
        return this.failover;
      },
      attachVm: (vm) => this.attachVm(vm),
      startCheckpoint: (mode, reason) => this.startCheckpoint(mode === 'resume', reason, mode === 'hold'),
    };
  }

  /** Replace the failover side (at start, and when rejoining as a fresh secondary). */
  private newFailover(role: Role): FailoverController {
    const { config, nodeName, bus } = this.d;
    const fc = new FailoverController({
      ...{ config, nodeName, bus, peerName: this.peerName, lease: this.lease, log: this.log, role },
      plan: () => this.plan,
      vm: () => this.vm,
      lastCheckpointAt: () => this.cp?.getSnapshot().context.checkpoints.lastAt ?? null,
      onTransition: (record, acted) => {
        if (record.to === 'fencing') this.restore.leaseLost(record.reason);
        if (acted) this.cp?.send({ type: 'STAND_DOWN' }); // a half-done first protection is not retried: a restore brings it back
        this.recordTransition('failover', record);
      },
      onLeaseUnconfirmed: () => this.publishStatus(),
      stopFencedQemu: (reason) => {
        this.log.warn({ reason }, 'stopping the fenced qemu');
        void this.vm?.stop(QEMU_STOP_GRACE_MS);
      },
    });
    this.failover = fc;
    fc.start();
    return fc;
  }

  private startCheckpoint(resumeColo: boolean, resumeReason?: string, holdAdopted = false): void {
    this.audit.reset();
    this.cpSub?.unsubscribe();
    this.cp?.stop();
    const created = createProtectActor(this.checkpointHost(), {
      ...{ config: this.d.config, node: this.d.nodeName, plan: { ...this.plan, role: this.role }, log: this.log, resumeColo, resumeReason, holdAdopted },
      onTransition: (record) => {
        // Once COLO has run, the secondary's disk is a complete replica: from then on it may take over.
        if (record.to === 'coloRunning') this.failover.actor.send({ type: 'PROMOTABLE', value: true });
        // Protected is proven from qemu: audit at once on entering COLO (protection, restore, adoption).
        if (record.to === 'coloRunning' && record.from !== 'unreplicated') void this.audit.run();
        this.recordTransition('checkpoint', record);
      },
    });
    this.cpSub = created;
    this.cp = created.actor;
    created.actor.start();
  }

  private checkpointHost(): CheckpointHost {
    const { config, bus, img, qemuBinary } = this.d;
    return {
      ...{ config, bus, img, qemuBinary, peerName: this.peerName, log: this.log, plan: this.plan, rejoinSizes: this.rejoinSizes },
      claimForPrimary: (signal) => this.failover.claimForPrimary(signal),
      attachVm: (vm) => this.attachVm(vm),
      requireVm: () => this.requireVm(),
      setColoSizes: (sizes) => void (this.coloSizes = sizes),
      call: (signal) => this.call(signal),
      hasVm: () => this.vm !== null && this.vm.proc.isRunning,
      onSyncProgress: (bytesDone, bytesTotal) => this.cp?.send({ type: 'SYNC_PROGRESS', bytesDone, bytesTotal }),
      onLinking: () => this.audit.reset(),
    };
  }

  private attachVm(vm: VmInstance): void {
    this.vm = vm;
    this.live.started(vm.proc.pid, this.plan.qmpSocket);
    this.failover.qemuStarted();
    this.liveness.watch(vm);
    this.cleanups.push(
      watchQemuSignals(vm, {
        isCurrent: () => !this.stopping && this.vm === vm,
        checkpoint: (signal) => this.cp?.send(signal),
        coloFailed: (reason) => this.failover.coloFailed(reason),
        writeFailure: (node, detail, atMs) => this.audit.noteWriteFailure(node, detail, atMs),
        liveEvent: (e) => this.live.event(e),
        monitorLost: (reason) => this.failover.qemuGone(reason),
        exited: (reason) => {
          this.live.gone();
          this.failover.qemuGone(reason);
          this.cp?.send({ type: 'QEMU_EXITED', reason });
        },
      }),
    );
  }

  /** The survivor runs alone and the lost node's agent is back: bring protection back (config restore.auto). */
  private maybeRestore(): void {
    const fo = this.failover;
    const facts = { auto: this.d.config.restore.auto, restoreRunning: this.restore.isRunning, failover: fo.actor.getSnapshot() };
    if (shouldAutoRestore({ ...facts, peerAgentAlive: fo.heartbeat.isPeerAgentAlive(), leaseHeld: fo.lease.isHeldLocally() })) this.restore.request();
  }

  /** Restore finished on the survivor: watch COLO as its primary again. */
  private becomeProtectedPrimary(): void {
    this.role = 'primary';
    this.plan = { ...this.plan, role: 'primary' };
    this.failover.actor.send({ type: 'RESTORED' });
    this.startCheckpoint(true);
  }

  /** The survivor asks this node to start over as a fresh secondary (restore). Never while this node serves the VM. */
  async rejoin(req: RejoinRequest): Promise<AcceptedReply> {
    const refusal = rejoinRefusal({
      ...{ vm: this.vmName, qemuRunning: this.vm?.proc.isRunning === true, role: this.role, failover: this.failover.actor.getSnapshot() },
      ...{ knownEpoch: this.failover.epoch, requestEpoch: req.epoch },
    });
    if (refusal) return { accepted: false, node: this.d.nodeName, reason: refusal };
    this.log.warn({ epoch: req.epoch }, 'rejoining as a fresh secondary');
    await this.resetAsSecondary(req.disks);
    return { accepted: true, node: this.d.nodeName, reason: 'starting as a fresh secondary' };
  }

  private async resetAsSecondary(sizes: RejoinRequest['disks']): Promise<void> {
    this.cpSub?.unsubscribe();
    this.cp?.stop();
    this.cp = null;
    this.liveness.stop();
    const old = this.vm;
    this.vm = null;
    await old?.stop(QEMU_STOP_GRACE_MS);
    this.failover.stop();
    this.role = 'secondary';
    this.plan = planVm(this.d.config, this.vmName, this.d.nodeName, 'secondary', this.d.kvmUsable);
    this.live.reset(this.plan.qmpSocket);
    this.rejoinSizes = sizes;
    this.coloSizes = null;
    this.failover = this.newFailover('secondary');
    this.startCheckpoint(false);
  }

  async requestRestore(req: RestoreRequest): Promise<AcceptedReply> {
    const wrongPeer = wrongRestoreTarget(this.peerName, req.to);
    if (wrongPeer) return { accepted: false, node: this.d.nodeName, reason: wrongPeer };
    if (req.bandwidthBytesPerSec !== undefined) await this.restore.setBandwidth(req.bandwidthBytesPerSec);
    const refusal = restoreRefusal({ peer: this.peerName, to: req.to, failover: this.failover.actor.getSnapshot() });
    if (refusal) return { accepted: req.bandwidthBytesPerSec !== undefined, node: this.d.nodeName, reason: refusal };
    this.restore.request();
    return { accepted: true, node: this.d.nodeName, reason: `restoring protection onto ${this.peerName}` };
  }

  readiness(req: ReadinessRequest): ReadinessReply {
    const snap = this.cp?.getSnapshot();
    const ready = readyAsSecondary({ role: this.role, protectReady: snap?.hasTag('ready') === true, failover: this.failover.actor.getSnapshot() });
    try {
      return readinessReply(this.plan, ready, snap?.context.reason ?? 'starting', this.coloSizes ?? new Map(), req);
    } catch (e) {
      this.log.warn({ reason: errorMessage(e) }, 'refused the primary');
      this.cp?.send({ type: 'PRIMARY_REFUSED', reason: errorMessage(e) });
      throw e;
    }
  }

  /** A human-monitor command on this VM's qemu (qemu-io in tests and drills). */
  hmp = (commandLine: string): Promise<string> => this.requireVm().qmp.hmp(commandLine, this.call());
  writePattern(byte: number, offset: number, length: number, awaitCheckpoint: boolean) {
    return writePattern(this.requireVm(), this.plan, () => this.cp?.getSnapshot().context.checkpoints.count ?? 0, { byte, offset, length, awaitCheckpoint });
  }

  private recordTransition(machine: 'checkpoint' | 'failover' | 'restore', record: TransitionRecord): void {
    this.view.record(machine, record);
  }

  status = (now = Date.now()): NodeStatus => this.view.status(now);
  statusFresh = (): Promise<NodeStatus> => this.view.fresh();
  private publishStatus = (): void => this.view.publish();
  private refreshLive = (): Promise<void> => this.view.refresh();
  private get live(): LiveState {
    return this.view.live;
  }

  /** Watchdog health: qemu (when it should be running) answers its monitor. */
  healthy = (): Promise<boolean> => LiveState.answers(this.vm);

  /** Leave the VM running for the next agent to adopt: stop watching, close the monitors, change nothing in qemu. */
  detach = (): Promise<void> => this.shutdown(false);
  stop = (): Promise<void> => this.shutdown(true);

  private async shutdown(stopVm: boolean): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    for (const c of this.cleanups.splice(0)) c();
    this.liveness.stop();
    this.restore.stop();
    this.failover?.stop();
    this.cpSub?.unsubscribe();
    this.cp?.stop();
    if (stopVm) await this.vm?.stop();
    else await Promise.all([this.vm?.qmp.close(), this.vm?.oob.close()]);
  }
}
