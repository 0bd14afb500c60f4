import { isStaleEpoch } from '../../state-machines/index.js';
import type { Logger } from '../../shared/log.js';
import { WarnLimiter } from '../../shared/log-limit.js';
import { onPeriod } from './period-clock.js';
import { PunctualCheck, PunctualDeadline } from './punctual-check.js';
import { heartbeatSchema, subjects, type Bus, type Heartbeat, type Role, type Unsubscribe } from '../../shared/nats/index.js';

export interface HeartbeatOptions {
  bus: Bus;
  pair: string;
  vm: string;
  node: string;
  peer: string;
  intervalMs: number;
  timeoutMs: number;
  log: Logger;
  /** What we say about ourselves in each beat. */
  self: () => { role: Role; epoch: number; qemuOk: boolean; unreplicated?: boolean };
  knownEpoch: () => number;
  /** The peer's epoch, so a node that never held the lease still learns the current fencing token. */
  onEpochSeen: (epoch: number) => void;
  /** `announced`: the peer said its qemu is gone; otherwise it merely went silent. */
  onPeerLost: (reason: string, at: number, announced: boolean) => void;
  onPeerBack: () => void;
  /** The primary peer's audit says a disk is not replicating: our copy may miss writes. */
  onPeerUnreplicated?: () => void;
  monotonic?: () => number;
}

/**
 * Beats to the peer and watches the peer's beats for one VM. A NATS outage is
 * not a dead peer: while our own connection is down nothing is judged, and the
 * peer gets a fresh grace period when it comes back.
 */
export class HeartbeatMonitor {
  private seq = 0;
  private lastSeen: number;
  private peerAlive = false;
  private muted = false;
  private stopBeats: (() => void) | null = null;
  private unsubs: Unsubscribe[] = [];
  private readonly now: () => number;
  lastPeerBeat: Heartbeat | null = null;
  private lastAnyBeat = -Infinity;
  /**
   * Our own stall is no evidence about the peer: a late check reads the beats that arrived meanwhile first.
   * The peer is judged when its silence would pass timeoutMs (the deadline: a wake-up only then, not a
   * poll every intervalMs / 4, which cost an idle agent 40 wake-ups a second), and at each of our beats.
   */
  private readonly checker: PunctualCheck;
  /** A beat naming another VM or node on the peer's subject is no beat of the peer's: dropped, and said at a bounded rate. */
  private readonly misaddressed: WarnLimiter;
  private readonly deadline: PunctualDeadline;

  constructor(private readonly o: HeartbeatOptions) {
    this.now = o.monotonic ?? (() => performance.now());
    this.misaddressed = new WarnLimiter(o.log);
    this.lastSeen = this.now();
    this.checker = new PunctualCheck(o.intervalMs, () => this.judge(), this.now);
    this.deadline = new PunctualDeadline(() => this.judge());
  }

  start(): void {
    const { bus, pair, vm, peer } = this.o;
    this.unsubs.push(bus.subscribe(subjects.heartbeat(pair, vm, peer), heartbeatSchema, (hb) => this.receive(hb)));
    this.unsubs.push(
      bus.onStateChange((state) => {
        if (state !== 'connected') return;
        this.lastSeen = this.now();
        this.watchDeadline();
      }),
    );
    // The agent's clock for this period (the hang probe of each qemu ticks on it too).
    this.stopBeats = onPeriod(this.o.intervalMs, () => {
      this.beat();
      this.checker.tick();
    });
    this.checker.startTicked();
    this.beat();
  }

  /** Drill partition: stop beating, as a node cut off from the network would. */
  mute(muted: boolean): void {
    this.muted = muted;
    // Back from a (simulated) partition: the peer gets a fresh grace period, as after a NATS reconnect.
    if (muted) return;
    this.lastSeen = this.now();
    this.watchDeadline();
  }

  /** Say something now (e.g. our qemu just died) instead of at the next interval. */
  beat(): void {
    if (this.muted || this.o.bus.state !== 'connected') return;
    const self = this.o.self();
    const hb: Heartbeat = { vm: this.o.vm, node: this.o.node, role: self.role, epoch: self.epoch, seq: ++this.seq, sentAt: Date.now(), qemuOk: self.qemuOk, ...(self.unreplicated ? { unreplicated: true } : {}) };
    this.o.bus.publish(subjects.heartbeat(this.o.pair, this.o.vm, this.o.node), hb);
  }

  /** The peer's agent is talking (its qemu may be gone): someone to restore onto. */
  isPeerAgentAlive(): boolean {
    return this.now() - this.lastAnyBeat <= this.o.timeoutMs;
  }

  get isPeerAlive(): boolean {
    return this.peerAlive;
  }

  /** ms since the peer's last beat. */
  peerAgeMs(): number {
    return Math.round(this.now() - this.lastSeen);
  }

  private receive(hb: Heartbeat): void {
    if (this.muted) return;
    if (hb.vm !== this.o.vm || hb.node !== this.o.peer) {
      this.misaddressed.warn('misaddressed', { vm: hb.vm, node: hb.node, expected: { vm: this.o.vm, node: this.o.peer } }, 'dropped a heartbeat naming another VM or node');
      return;
    }
    if (isStaleEpoch(hb.epoch, this.o.knownEpoch())) {
      this.o.log.debug({ epoch: hb.epoch, known: this.o.knownEpoch() }, 'dropped heartbeat with a stale epoch');
      return;
    }
    this.lastPeerBeat = hb;
    this.lastAnyBeat = this.now();
    this.o.onEpochSeen(hb.epoch);
    if (hb.unreplicated && hb.role === 'primary') this.o.onPeerUnreplicated?.();
    if (!hb.qemuOk) {
      if (this.peerAlive) this.lose(`peer ${hb.node} reports its qemu is gone`, true);
      return;
    }
    this.lastSeen = this.now();
    if (!this.peerAlive) {
      this.peerAlive = true;
      this.o.onPeerBack();
    }
    this.watchDeadline();
  }

  private judgeable(): boolean {
    return this.peerAlive && !this.muted && this.o.bus.state === 'connected';
  }

  private judge(): void {
    const age = this.now() - this.lastSeen;
    if (this.judgeable() && age > this.o.timeoutMs) return this.lose(`no heartbeat from ${this.o.peer} for ${Math.round(age)} ms`, false);
    this.watchDeadline();
  }

  /**
   * While the peer can be judged, a judgement is due when its silence passes timeoutMs. Set once and
   * moved on by the judgement it causes (beats in between only move lastSeen): about one wake-up per
   * timeoutMs while the peer beats. Whatever makes the peer judgeable again (a beat, NATS back, unmute) sets it.
   */
  private watchDeadline(): void {
    if (!this.judgeable() || this.deadline.armed) return;
    this.deadline.in(this.o.timeoutMs - (this.now() - this.lastSeen) + 1);
  }

  private lose(reason: string, announced: boolean): void {
    this.peerAlive = false;
    this.o.onPeerLost(reason, Date.now(), announced);
  }

  stop(): void {
    this.checker.stop();
    this.deadline.cancel();
    this.stopBeats?.();
    this.stopBeats = null;
    for (const u of this.unsubs.splice(0)) u();
  }
}
