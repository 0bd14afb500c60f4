import type { AnyActorRef, SnapshotFrom } from 'xstate';
import { FAILOVER_PHASE_DEPTH, type failoverMachine, type FailoverSignal, type TagChange, type TransitionRecord, type VmRole } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import { isHandoverTo, type Lease, type LeaseView } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus, Unsubscribe } from '../../shared/nats/index.js';
import type { VmPlan } from '../../shared/qemu/index.js';
import { ColoEvidence } from '../signals/colo-evidence.js';
import { HeartbeatMonitor } from '../signals/heartbeat.js';
import { LeaseKeeper } from '../signals/lease-keeper.js';
import { PunctualCheck } from '../signals/punctual-check.js';
import { followTransitions } from '../runtime/transitions.js';
import { FencedQemuStop } from './fenced-stop.js';
import { LeaseClaimer } from './lease-claim.js';

type FailoverSnapshot = SnapshotFrom<typeof failoverMachine>;

export interface FailoverSideDeps {
  config: Config;
  nodeName: string;
  peerName: string;
  bus: Bus;
  lease: Lease;
  log: Logger;
  plan(): VmPlan;
  /** This node's role for the VM (the VM machine's). */
  role(): VmRole;
  /** The failover child's snapshot; undefined between children (start, rejoin). */
  snapshot(): FailoverSnapshot | undefined;
  /** Into the VM machine, which hands it to the failover child. */
  send(event: FailoverSignal): void;
  /** Wall-clock ms of the last checkpoint completed on this node (null: none yet). */
  lastCheckpointAt(): number | null;
  onTransition(record: TransitionRecord, tags: TagChange): void;
  /** The lease could not be renewed while checkpoints flow (true) / was renewed again (false): for the status. */
  onLeaseUnconfirmed(unconfirmed: boolean): void;
  /** Fenced, and the peer has taken over (a higher epoch seen): stop our paused qemu for good. */
  stopFencedQemu(reason: string): void;
}

/** Renewing four times per TTL survives three lost renewals; a floor keeps a tiny test TTL from flooding the KV. */
const RENEWALS_PER_TTL = 4;
const MIN_RENEW_MS = 20;
/**
 * How often the keeper compares the lease's expiry with the clock: far below
 * any TTL, and within FENCE_ACTION_MS with the yank and stop that follow (each
 * check is a timer wake-up of the holder's agent, so not more often than needed).
 */
const LEASE_CHECK_MS = 25;

/**
 * The failover child's signals and effects on this node, for the life of one
 * failover child: heartbeats, the lease (keeper, claims, watch) and the COLO
 * evidence that vetoes a takeover. Facts go to the VM machine as events.
 */
export class FailoverSide {
  readonly heartbeat: HeartbeatMonitor;
  readonly keeper: LeaseKeeper;
  readonly claimer: LeaseClaimer;
  private readonly evidence: ColoEvidence;
  private readonly unsubs: Unsubscribe[] = [];
  /** Re-judges a silent peer; a late sample reads qemu's pending checkpoint events first. */
  private silentPeerCheck: PunctualCheck | null = null;
  private stopWatch: (() => void) | null = null;
  private qemuOk = true;
  /** Set by the replication audit (primary): said in every heartbeat so the secondary knows its copy may be incomplete. */
  private unreplicated = false;
  private readonly fencedStop: FencedQemuStop;
  private stopped = false;

  constructor(private readonly d: FailoverSideDeps) {
    const t = d.config.timings;
    this.fencedStop = new FencedQemuStop({
      log: d.log,
      fencedAtEpoch: () => {
        const snap = d.snapshot();
        return snap?.matches('fenced') ? snap.context.epoch : null;
      },
      stop: (reason) => d.stopFencedQemu(reason),
    });
    this.evidence = new ColoEvidence(d.config, () => d.plan().checkpointDelayMs, () => d.lastCheckpointAt());
    this.keeper = new LeaseKeeper(d.lease, {
      renewEveryMs: Math.max(MIN_RENEW_MS, Math.floor(t.leaseTtlMs / RENEWALS_PER_TTL)),
      checkEveryMs: LEASE_CHECK_MS,
      log: d.log,
      onLost: (reason) => d.send({ type: 'LEASE_LOST', reason }),
      checkpointsFlowing: () => this.evidence.holdsOffFencing(),
      onUnconfirmed: (unconfirmed) => d.onLeaseUnconfirmed(unconfirmed),
    });
    this.claimer = new LeaseClaimer({ node: d.nodeName, lease: d.lease, keeper: this.keeper, bus: d.bus, log: d.log });
    this.heartbeat = new HeartbeatMonitor({
      ...{ bus: d.bus, pair: d.config.pair, vm: d.plan().vm, node: d.nodeName, peer: d.peerName, log: d.log },
      intervalMs: t.heartbeatIntervalMs,
      timeoutMs: t.heartbeatTimeoutMs,
      self: () => ({ role: d.role(), epoch: this.epoch, qemuOk: this.qemuOk, unreplicated: this.unreplicated }),
      knownEpoch: () => this.epoch,
      onEpochSeen: (epoch) => this.fencedStop.seenFromPeer(epoch),
      onPeerLost: (reason, at, announced) => {
        d.send({ type: 'PEER_LOST', reason, at, coloAlive: !announced && this.evidence.vetoesTakeover(), qemuGone: announced });
        if (!this.stopped) this.silentPeerCheck?.start();
      },
      onPeerBack: () => {
        d.send({ type: 'PEER_BACK' });
        this.silentPeerCheck?.stop();
      },
      onPeerUnreplicated: () => {
        if (!d.snapshot()?.context.unreplicatedSinceSync) d.send({ type: 'REPLICATION_UNVERIFIED', reason: `${d.peerName}'s audit found a disk not replicating` });
      },
    });
  }

  snapshot(): FailoverSnapshot | undefined {
    return this.d.snapshot();
  }

  /** The failover child as a snapshot source (tests and tools that read its context). */
  get actor(): { getSnapshot(): FailoverSnapshot } {
    return { getSnapshot: () => this.d.snapshot()! };
  }

  get lease(): Lease {
    return this.d.lease;
  }

  get epoch(): number {
    return Math.max(this.d.snapshot()?.context.epoch ?? 0, this.d.lease.epoch, this.fencedStop.seenEpoch);
  }

  /** Once the failover child runs: follow its transitions, beat, renew, watch the lease. */
  start(child: AnyActorRef): void {
    const follow = followTransitions(
      child as unknown as { getSnapshot(): FailoverSnapshot; subscribe: AnyActorRef['subscribe'] },
      (record, snap: FailoverSnapshot, tags) => {
        const level = snap.hasTag('fenced') || snap.hasTag('down') || snap.context.reason.startsWith('WARNING') ? 'warn' : 'info';
        this.d.log[level]({ machine: 'failover', from: record.from, to: record.to, reason: record.reason, epoch: snap.context.epoch }, 'transition');
        this.d.onTransition(record, tags);
        if (snap.hasTag('fenced') || snap.hasTag('down')) this.keeper.letGo();
        if (tags.after.has('paused') && !tags.before.has('paused')) this.fencedStop.check();
      },
      (e) => this.d.log.error({ reason: errorMessage(e) }, 'failover machine crashed'),
      { phaseDepth: FAILOVER_PHASE_DEPTH },
    );
    this.unsubs.push(() => follow.unsubscribe());
    this.unsubs.push(this.d.bus.onStateChange((s) => this.d.send({ type: s === 'connected' ? 'NATS_UP' : 'NATS_DOWN' })));
    this.heartbeat.start();
    this.silentPeerCheck = new PunctualCheck(this.d.config.timings.heartbeatIntervalMs, () => this.sampleSilentPeer());
    // It samples only while the peer is silent: stopped while it beats, started again when it is lost.
    if (!this.heartbeat.isPeerAlive) this.silentPeerCheck.start();
    void this.d.lease
      .watch((view) => this.onLeaseView(view))
      .then((stop) => {
        if (this.stopped) stop();
        else this.stopWatch = stop;
      })
      .catch((e: unknown) => this.d.log.warn({ reason: errorMessage(e) }, 'cannot watch the lease: claims will poll'));
  }

  /** The facts the failover machine re-judges a silent peer on (it decides, in `watching`). */
  private sampleSilentPeer(): void {
    const hb = this.heartbeat;
    // A peer that beats gives the machine nothing to judge: no event (ten a second otherwise, each a pass through the statechart).
    // The check does not even run then (a timer wake-up each time); this guards the tick that was already due.
    if (hb.isPeerAlive) return;
    this.d.send({ type: 'SILENT_PEER_CHECK', peer: this.d.peerName, peerBeating: hb.isPeerAlive, everBeat: hb.lastPeerBeat !== null, coloAlive: this.evidence.vetoesTakeover(), at: Date.now() });
  }

  private onLeaseView(view: LeaseView): void {
    // Judged before the claimer takes it: a hand-over is news only while no claim is under way to take it.
    const handedToUs = isHandoverTo(view, this.d.nodeName, this.epoch);
    this.claimer.viewed(view);
    if (handedToUs) this.d.send({ type: 'LEASE_HANDED_OVER', reason: `${this.d.peerName} handed the lease over (its qemu is gone)`, at: Date.now() });
    if (view.holder !== this.d.nodeName) this.fencedStop.seenFromPeer(view.epoch);
    else this.fencedStop.check();
  }

  /** A primary holds the lease before its VM runs: never two live copies, even at cold start. */
  async claimForPrimary(signal?: AbortSignal): Promise<number> {
    const epoch = await this.claimer.forPrimary(signal);
    this.fencedStop.held(epoch);
    this.d.send({ type: 'PEER_BACK' });
    return epoch;
  }

  /** The audit's verdict on this node: as primary, tell the peer at once (its copy may miss writes); as secondary, stop being promotable. */
  replicationAudited(ok: boolean, reason: string): void {
    if (this.d.role() === 'primary') {
      const changed = this.unreplicated !== !ok;
      this.unreplicated = !ok;
      if (changed) this.heartbeat.beat();
    } else if (!ok && !this.d.snapshot()?.context.unreplicatedSinceSync) {
      this.d.send({ type: 'REPLICATION_UNVERIFIED', reason });
    }
  }

  /** Repair: the audit keeps failing while this primary holds the lease and the peer was told. */
  replicationBroken(reason: string): void {
    this.d.send({ type: 'REPLICATION_BROKEN', reason, at: Date.now() });
  }

  qemuStarted(): void {
    this.qemuOk = true;
  }

  qemuGone(reason: string): void {
    if (!this.qemuOk) return;
    this.qemuOk = false;
    this.heartbeat.beat();
    this.d.send({ type: 'LOCAL_QEMU_LOST', reason, at: Date.now() });
  }

  coloFailed(reason: string): void {
    this.d.send({ type: 'LOCAL_COLO_FAILED', reason, at: Date.now() });
  }

  /** Drill partition: this node stops beating and renewing, as if cut off. */
  partition(on: boolean): void {
    this.heartbeat.mute(on);
    this.keeper.mute(on);
  }

  stop(): void {
    this.stopped = true;
    this.stopWatch?.();
    this.silentPeerCheck?.stop();
    this.heartbeat.stop();
    this.keeper.letGo();
    for (const u of this.unsubs.splice(0)) u();
  }
}
