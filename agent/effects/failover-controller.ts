import { createActor, type Actor } from 'xstate';
import type { failoverMachine, FailoverRole, TransitionRecord } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Lease, LeaseView } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus, Unsubscribe } from '../../shared/nats/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import { HeartbeatMonitor } from '../signals/heartbeat.js';
import { ColoEvidence } from '../signals/colo-evidence.js';
import { followTransitions } from '../runtime/transitions.js';
import { LeaseKeeper } from '../signals/lease-keeper.js';
import { LeaseClaimer } from './lease-claim.js';
import { provideFailover } from './failover-actors.js';

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

/** Renewing four times per TTL survives three lost renewals; a floor keeps a tiny test TTL from flooding the KV. */
const RENEWALS_PER_TTL = 4;
const MIN_RENEW_MS = 20;
/** How often the keeper compares the lease's expiry with the clock: far below any TTL, cheap (no I/O). */
const LEASE_CHECK_MS = 10;

/** The failover side of one VM on one node: heartbeats, the lease, the failover machine and its effects. */
export class FailoverController {
  readonly actor: Actor<typeof failoverMachine>;
  readonly heartbeat: HeartbeatMonitor;
  private subscription: { unsubscribe(): void } | null = null;
  private recheckTimer: NodeJS.Timeout | null = null;
  private stopWatch: (() => void) | null = null;
  readonly keeper: LeaseKeeper;
  private readonly claimer: LeaseClaimer;
  private readonly unsubs: Unsubscribe[] = [];
  private qemuOk = true;
  /** Set by the replication audit (primary): said in every heartbeat so the secondary knows its copy may be incomplete. */
  private unreplicated = false;
  private seenEpoch = 0;

  private readonly evidence: ColoEvidence;

  constructor(private readonly d: FailoverDeps) {
    const t = d.config.timings;
    this.evidence = new ColoEvidence(d.config, () => d.plan().checkpointDelayMs, d.lastCheckpointAt);
    this.keeper = new LeaseKeeper(d.lease, {
      renewEveryMs: Math.max(MIN_RENEW_MS, Math.floor(t.leaseTtlMs / RENEWALS_PER_TTL)),
      checkEveryMs: LEASE_CHECK_MS,
      log: d.log,
      onLost: (reason) => this.actor.send({ type: 'LEASE_LOST', reason }),
      checkpointsFlowing: () => this.evidence.holdsOffFencing(),
      onUnconfirmed: (unconfirmed) => this.d.onLeaseUnconfirmed?.(unconfirmed),
    });
    this.claimer = new LeaseClaimer({ lease: d.lease, keeper: this.keeper, bus: d.bus, leaseTtlMs: t.leaseTtlMs, log: d.log });
    this.actor = createActor(provideFailover({ config: d.config, peerName: d.peerName, lease: d.lease, keeper: this.keeper, claimer: this.claimer, log: d.log, plan: d.plan, vm: d.vm }), {
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
      onPeerLost: (reason, at, announced) => this.actor.send({ type: 'PEER_LOST', reason, at, coloAlive: !announced && this.evidence.vetoesTakeover() }),
      onPeerBack: () => this.actor.send({ type: 'PEER_BACK' }),
      onPeerUnreplicated: () => {
        if (!this.actor.getSnapshot().context.unreplicatedSinceSync) this.actor.send({ type: 'REPLICATION_UNVERIFIED', reason: `${d.peerName}'s audit found a disk not replicating` });
      },
    });
  }

  /** A peer that went silent while checkpoints still flowed is judged again once they stop. */
  private recheckSilentPeer(): void {
    const snap = this.actor.getSnapshot();
    if (!snap.matches('watching') || this.heartbeat.isPeerAlive || snap.context.peerAlive || !snap.context.natsUp) return;
    if (!this.heartbeat.lastPeerBeat || this.evidence.vetoesTakeover()) return;
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

  private onLeaseView(view: LeaseView): void {
    this.claimer.viewed(view);
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
    const epoch = await this.claimer.forPrimary(signal);
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
