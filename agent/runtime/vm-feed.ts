import type { RestoreSnapshotView, TagChange, TransitionRecord } from '../../state-machines/index.js';
import { toNodeStatus } from '../../state-machines/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus, NodeStatus } from '../../shared/nats/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import type { FailoverSide } from '../effects/failover-side.js';
import { LiveState } from '../reconcile/live-state.js';
import { NicLive } from '../reconcile/nic-live.js';
import type { SnapshotFrom } from 'xstate';
import type { checkpointMachine, VmRole } from '../../state-machines/index.js';
import type { StatusPublisher } from './status-publisher.js';

/** The status shows the last transitions of the three machines; older ones are in the log. */
const MAX_TRANSITIONS = 50;
/** How long a transition's status waits for the rest of its burst (far below what a person or dashboard notices). */
const TRANSITION_FEED_DELAY_MS = 25;
/**
 * The feed's steady beat: a status published on each transition, and at least this often (dashboards show
 * its age), each read from qemu (run state, COLO mode) just before, as a transition's is. (A separate 1 s
 * re-read of qemu fed every other one of these and nothing else: a request for the status re-reads it anyway.)
 */
const STATUS_PUBLISH_MS = 2_000;

export interface VmFeedHost {
  bus: Bus;
  log: Logger;
  publisher: StatusPublisher;
  vm(): VmInstance | null;
  plan(): VmPlan;
  protect(): SnapshotFrom<typeof checkpointMachine> | null;
  failover(): FailoverSide | undefined;
  role(): VmRole;
  restore(): RestoreSnapshotView | null;
  stopping(): boolean;
}

/** One VM's status on this node: derived from the machines' snapshots and what qemu last said, published on each transition. */
export class VmFeed {
  readonly live: LiveState;
  readonly nics = new NicLive();
  private transitions: TransitionRecord[] = [];
  private readonly pendingEvents: Array<() => void> = [];

  constructor(private readonly h: VmFeedHost, qmpSocket: string) {
    this.live = new LiveState(qmpSocket);
  }

  record(machine: 'checkpoint' | 'failover' | 'restore', record: TransitionRecord, tags: TagChange): void {
    this.transitions = [...this.transitions, record].slice(-MAX_TRANSITIONS);
    // A moment after the event that caused it: a takeover's lease write and QMP commands go out before the
    // feed's (a status is a JetStream write too), and a burst of transitions costs one status read and publish.
    const epoch = this.h.failover()?.epoch ?? 0;
    this.pendingEvents.push(() => this.h.publisher.transition(machine, record, tags, epoch));
    if (this.pendingEvents.length > 1) return;
    setTimeout(() => {
      for (const send of this.pendingEvents.splice(0)) send();
      void this.refresh().then(() => this.publish());
    }, TRANSITION_FEED_DELAY_MS);
  }

  /** Not while a takeover is under way: status queries would queue behind, and delay, its QMP commands. */
  refresh(): Promise<void> {
    if (this.h.failover()?.snapshot()?.hasTag('failingOver')) return Promise.resolve();
    const vm = this.h.vm();
    return Promise.all([this.live.refresh(vm, (v) => this.h.vm() === v, this.h.log), this.nics.refresh(vm, this.h.plan(), this.h.log)]).then(() => undefined);
  }

  status(now = Date.now()): NodeStatus {
    const fo = this.h.failover()!;
    const hb = fo.heartbeat;
    const extra = { epoch: fo.epoch, transitions: this.transitions, failover: fo.snapshot(), restore: this.h.restore() };
    const natsConnected = this.h.bus.state === 'connected';
    return toNodeStatus(this.h.protect()!, this.live.value, { ...extra, role: this.h.role(), natsConnected, heartbeatAgeMs: hb.isPeerAlive || hb.lastPeerBeat ? hb.peerAgeMs() : null, nics: this.nics.value }, now);
  }

  publish(): void {
    if (!this.h.stopping() && this.h.protect()) this.h.publisher.publish(this.status());
  }

  fresh = async (): Promise<NodeStatus> => (await this.refresh(), this.status());

  /** Re-read qemu and publish on a steady beat between transitions; returns the stop. */
  beat(): () => void {
    const timer = setInterval(() => void this.refresh().then(() => this.publish()), STATUS_PUBLISH_MS);
    return () => clearInterval(timer);
  }
}
