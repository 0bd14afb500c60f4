import { createActor, fromPromise, type Actor } from 'xstate';
import { carryOnAlone } from '../../primary/index.js';
import { takeOver } from '../../secondary/index.js';
import { failoverMachine, type ClaimOutput, type FailoverRole, type TransitionRecord } from '../../state-machines/index.js';
import { primaryFenceBoundMs, takeoverVetoMs, type Config } from '../../shared/config/index.js';
import { LockConflictError, NatsUnavailableError, errorMessage } from '../../shared/errors.js';
import type { Lease, LeaseView } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus, Unsubscribe } from '../../shared/nats/index.js';
import { sleep, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { HeartbeatMonitor } from '../signals/heartbeat.js';
import { followTransitions } from '../runtime/transitions.js';
import { LeaseKeeper } from '../signals/lease-keeper.js';
import { fenceByPause } from './fence.js';

export interface FailoverDeps {
  config: Config;
  nodeName: string;
  peerName: string;
  plan: () => VmPlan;
  bus: Bus;
  lease: Lease;
  log: Logger;
  role: FailoverRole;
  vm: () => VmInstance | null;
  /** Wall-clock ms of the last checkpoint completed on this node (null: none yet). */
  lastCheckpointAt: () => number | null;
  /** `acted`: the machine is in a state where it took over, carried on, fenced or gave up (tag `acted`). */
  onTransition: (record: TransitionRecord, acted: boolean) => void;
  /** The lease could not be renewed while checkpoints flow (true) / was renewed again (false): for the status. */
  onLeaseUnconfirmed?: (unconfirmed: boolean) => void;
  /** Fenced, and the peer has taken over (a higher epoch seen): stop our paused qemu for good. */
  stopFencedQemu?: (reason: string) => void;
}

const CLAIM_RETRY_MS = 1;

/** The failover side of one VM on one node: heartbeats, the lease, the failover machine and its effects. */
export class FailoverController {
  readonly actor: Actor<typeof failoverMachine>;
  readonly heartbeat: HeartbeatMonitor;
  private subscription: { unsubscribe(): void } | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private stopWatch: (() => void) | null = null;
  private lastView: LeaseView | null = null;
  private onHandover: ((view: LeaseView) => void) | null = null;
  readonly keeper: LeaseKeeper;
  private readonly unsubs: Unsubscribe[] = [];
  private qemuOk = true;
  /** Set by the replication audit (primary): said in every heartbeat so the secondary knows its copy may be incomplete. */
  private unreplicated = false;
  private seenEpoch = 0;

  constructor(private readonly d: FailoverDeps) {
    const t = d.config.timings;
    this.keeper = new LeaseKeeper(d.lease, {
      renewEveryMs: Math.max(20, Math.floor(t.leaseTtlMs / 4)),
      checkEveryMs: 10,
      log: d.log,
      onLost: (reason) => this.actor.send({ type: 'LEASE_LOST', reason }),
      checkpointsFlowing: () => this.checkpointsWithin(primaryFenceBoundMs(d.plan().checkpointDelayMs)),
      onUnconfirmed: (unconfirmed) => this.d.onLeaseUnconfirmed?.(unconfirmed),
    });
    this.actor = createActor(this.provide(), {
      input: {
        vm: d.plan().vm,
        node: d.nodeName,
        role: d.role,
        policy: d.config.failover.policy,
        epoch: 0,
        standbyRetryMs: t.leaseTtlMs,
        actionTimeoutMs: t.qmpLongTimeoutMs,
        promotable: d.role === 'primary',
      },
    });
    this.heartbeat = new HeartbeatMonitor({
      bus: d.bus,
      pair: d.config.pair,
      vm: d.plan().vm,
      node: d.nodeName,
      peer: d.peerName,
      intervalMs: t.heartbeatIntervalMs,
      timeoutMs: t.heartbeatTimeoutMs,
      log: d.log,
      self: () => ({ role: this.role, epoch: this.epoch, qemuOk: this.qemuOk, unreplicated: this.unreplicated }),
      knownEpoch: () => this.epoch,
      onEpochSeen: (epoch) => {
        this.seenEpoch = Math.max(this.seenEpoch, epoch);
        this.maybeStopFenced();
      },
      onPeerLost: (reason, at, announced) => this.actor.send({ type: 'PEER_LOST', reason, at, coloAlive: !announced && this.coloAlive() }),
      onPeerBack: () => this.actor.send({ type: 'PEER_BACK' }),
      onPeerUnreplicated: () => {
        if (!this.actor.getSnapshot().context.unreplicatedSinceSync) this.actor.send({ type: 'REPLICATION_UNVERIFIED', reason: `${d.peerName}'s audit found a disk not replicating` });
      },
    });
  }

  /**
   * Checkpoints completing here prove the peer's qemu is running: a silent
   * peer agent (crashed, restarting, cut off from NATS) is then no reason to
   * fail over. Only when checkpoints stop too is the peer's VM judged lost.
   */
  private coloAlive(): boolean {
    return this.checkpointsWithin(takeoverVetoMs(this.d.config.timings.heartbeatTimeoutMs, this.d.plan().checkpointDelayMs));
  }

  private checkpointsWithin(ms: number): boolean {
    const last = this.d.lastCheckpointAt();
    return last !== null && Date.now() - last < ms;
  }

  /** A peer that went silent while checkpoints still flowed is judged again once they stop. */
  private recheckSilentPeer(): void {
    const snap = this.actor.getSnapshot();
    if (snap.value !== 'watching' || this.heartbeat.isPeerAlive || snap.context.peerAlive || !snap.context.natsUp) return;
    if (!this.heartbeat.lastPeerBeat || this.coloAlive()) return;
    this.actor.send({ type: 'PEER_LOST', reason: `no heartbeat from ${this.d.peerName} and no checkpoint for a while`, at: Date.now(), coloAlive: false });
  }

  get lease(): Lease {
    return this.d.lease;
  }

  get role(): FailoverRole {
    return this.actor.getSnapshot().context.role;
  }

  get epoch(): number {
    return Math.max(this.actor.getSnapshot().context.epoch, this.d.lease.epoch, this.seenEpoch);
  }

  private call(signal?: AbortSignal) {
    return { timeoutMs: this.d.config.timings.qmpTimeoutMs, signal };
  }

  private requireVm(): VmInstance {
    const vm = this.d.vm();
    if (!vm || !vm.proc.isRunning) throw new Error('qemu is not running');
    return vm;
  }

  /** Re-check the lease right before a side effect (relaxed policy may act without it, and says so). */
  private assertLease(): void {
    if (this.d.config.failover.policy === 'strict' && !this.d.lease.isHeldLocally()) {
      throw new LockConflictError(`${this.d.plan().vm} lease (no longer held locally)`);
    }
  }

  private provide() {
    const { lease } = this.d;
    return failoverMachine.provide({
      actors: {
        claimLease: fromPromise<ClaimOutput, { vm: string; force: boolean }>(async ({ input, signal }) => {
          // A peer whose qemu died gives us the lease outright: take it as soon as the watch shows it.
          const loopDone = new AbortController();
          const handed = new Promise<ClaimOutput>((resolve) => {
            this.onHandover = (view) => {
              if (!lease.accept(view)) return;
              this.keeper.hold();
              loopDone.abort();
              this.d.log.info({ epoch: view.epoch }, 'lease handed over to us');
              resolve({ epoch: view.epoch, at: Date.now() });
            };
            if (this.lastView) this.onHandover(this.lastView);
          });
          try {
            return await Promise.race([handed, this.claimLoop(input.force, AbortSignal.any([signal, loopDone.signal]))]);
          } finally {
            this.onHandover = null;
          }
        }),
        takeOver: fromPromise<{ at: number }, { vm: string; epoch: number }>(async ({ signal }) => {
          this.assertLease();
          const vm = this.requireVm();
          await takeOver(vm.qmp, vm.oob, this.d.plan(), this.call(signal));
          return { at: Date.now() };
        }),
        carryOnAlone: fromPromise<{ at: number }, { vm: string; epoch: number }>(async ({ signal }) => {
          this.assertLease();
          const vm = this.requireVm();
          await carryOnAlone(vm.qmp, vm.oob, this.d.plan(), this.call(signal));
          return { at: Date.now() };
        }),
        fenceVm: fromPromise<void, { vm: string }>(async () => {
          const vm = this.d.vm();
          if (!vm || !vm.proc.isRunning) return;
          try {
            await fenceByPause(vm);
          } catch (e) {
            // A qemu that cannot be kept paused cannot be trusted to stay quiet: kill it.
            this.d.log.error({ reason: errorMessage(e) }, 'cannot keep the VM paused: killing qemu to fence it');
            vm.proc.kill();
          }
        }),
        releaseLease: fromPromise<void, { vm: string }>(async () => {
          this.keeper.letGo();
          // Our qemu is gone: the peer may act at once, with the next epoch already in the record.
          await lease.handOver(this.d.peerName);
          this.d.log.info({ to: this.d.peerName, epoch: lease.epoch }, 'lease handed over');
        }),
      },
    });
  }

  start(): void {
    this.subscription = followTransitions(
      this.actor,
      (record, snap) => {
        const level = snap.hasTag('fenced') || snap.hasTag('down') || snap.context.reason.startsWith('WARNING') ? 'warn' : 'info';
        this.d.log[level]({ machine: 'failover', from: record.from, to: record.to, reason: record.reason, epoch: snap.context.epoch }, 'transition');
        this.d.onTransition(record, snap.hasTag('acted'));
        if (snap.hasTag('fenced') || snap.hasTag('down')) this.keeper.letGo();
        if (record.to === 'fenced') this.maybeStopFenced();
      },
      (e) => this.d.log.error({ reason: errorMessage(e) }, 'failover machine crashed'),
    );
    this.unsubs.push(this.d.bus.onStateChange((s) => this.actor.send({ type: s === 'connected' ? 'NATS_UP' : 'NATS_DOWN' })));
    this.actor.start();
    this.heartbeat.start();
    this.recheckTimer = setInterval(() => this.recheckSilentPeer(), this.d.config.timings.heartbeatIntervalMs);
    void this.d.lease
      .watch((view) => this.onLeaseView(view))
      .then((stop) => {
        if (this.stopped) stop();
        else this.stopWatch = stop;
      })
      .catch((e: unknown) => this.d.log.warn({ reason: errorMessage(e) }, 'cannot watch the lease: claims will poll'));
  }

  /** Claim by compare-and-set until won, lost for good, or the lease could have expired (the dead side's lease lasts at most one TTL). */
  private async claimLoop(force: boolean, signal: AbortSignal): Promise<ClaimOutput> {
    const lease = this.d.lease;
    const deadline = performance.now() + this.d.config.timings.leaseTtlMs + 250;
    let last: unknown;
    let attempts = 0;
    while (performance.now() < deadline) {
      try {
        attempts++;
        if (this.d.bus.state !== 'connected') throw new NatsUnavailableError('NATS is unreachable from this node');
        const { epoch } = await lease.claim({ signal, bump: true });
        this.keeper.hold();
        this.d.log.info({ epoch, attempts }, 'lease won');
        return { epoch, at: Date.now() };
      } catch (e) {
        last = e;
        this.d.log.debug({ reason: errorMessage(e) }, 'lease claim attempt failed');
        if (signal.aborted) throw e;
      }
      await sleep(CLAIM_RETRY_MS, signal);
    }
    if (force && last instanceof LockConflictError) {
      const { epoch } = await lease.claim({ signal, force: true });
      this.keeper.hold();
      this.d.log.warn({ epoch }, 'relaxed policy: took the lease from a live holder');
      return { epoch, at: Date.now() };
    }
    throw last;
  }

  private onLeaseView(view: LeaseView): void {
    this.lastView = view;
    this.onHandover?.(view);
    if (view.holder !== this.d.nodeName) this.seenEpoch = Math.max(this.seenEpoch, view.epoch);
    this.maybeStopFenced();
  }

  /**
   * A fenced qemu is paused, never resumed; once the peer acts with a higher
   * epoch it can never serve again, so it is stopped instead of lingering.
   * Without that evidence it stays paused: it may still be the only copy.
   */
  private fencedStopped = false;
  private maybeStopFenced(): void {
    const snap = this.actor.getSnapshot();
    if (this.fencedStopped || !snap.matches('fenced') || this.seenEpoch <= snap.context.epoch) return;
    this.fencedStopped = true;
    this.d.stopFencedQemu?.(`fenced, and the peer acts with epoch ${this.seenEpoch}: stopping the paused qemu`);
  }

  /** A primary holds the lease before its VM runs: never two live copies, even at cold start. */
  async claimForPrimary(signal?: AbortSignal): Promise<number> {
    const { epoch } = await this.d.lease.claim({ signal });
    this.keeper.hold();
    this.actor.send({ type: 'PEER_BACK' });
    return epoch;
  }

  /** The audit's verdict on this node: as primary, tell the peer at once (its copy may miss writes); as secondary, stop being promotable. */
  replicationAudited(ok: boolean, reason: string): void {
    if (this.role === 'primary') {
      const changed = this.unreplicated !== !ok;
      this.unreplicated = !ok;
      if (changed) this.heartbeat.beat();
    } else if (!ok && !this.actor.getSnapshot().context.unreplicatedSinceSync) {
      this.actor.send({ type: 'REPLICATION_UNVERIFIED', reason });
    }
  }

  /** Repair: the audit keeps failing while this primary holds the lease and the peer was told. */
  replicationBroken(reason: string): void {
    this.actor.send({ type: 'REPLICATION_BROKEN', reason, at: Date.now() });
  }

  qemuStarted(): void {
    this.qemuOk = true;
  }

  qemuGone(reason: string): void {
    if (!this.qemuOk) return;
    this.qemuOk = false;
    this.heartbeat.beat();
    this.actor.send({ type: 'LOCAL_QEMU_LOST', reason, at: Date.now() });
  }

  coloFailed(reason: string): void {
    this.actor.send({ type: 'LOCAL_COLO_FAILED', reason, at: Date.now() });
  }

  /** Drill partition: this node stops beating and renewing, as if cut off. */
  partition(on: boolean): void {
    this.heartbeat.mute(on);
    this.keeper.mute(on);
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.subscription?.unsubscribe();
    this.heartbeat.stop();
    this.keeper.letGo();
    for (const u of this.unsubs.splice(0)) u();
    this.actor.stop();
  }
}
