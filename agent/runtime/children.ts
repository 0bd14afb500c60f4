import type { ActorRefFrom, AnyActorRef, SnapshotFrom } from 'xstate';
import type { checkpointMachine, failoverMachine, restoreMachine, RestoreSnapshotView, TagChange, TransitionRecord, vmMachine } from '../../state-machines/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { followTransitions } from './transitions.js';

type ProtectRef = ActorRefFrom<typeof checkpointMachine>;
type FailoverRef = ActorRefFrom<typeof failoverMachine>;
type RestoreRef = ActorRefFrom<typeof restoreMachine>;
type ProtectSnapshot = SnapshotFrom<typeof checkpointMachine>;
type RestoreSnapshot = SnapshotFrom<typeof restoreMachine>;

interface VmActorLike {
  getSnapshot(): SnapshotFrom<typeof vmMachine>;
  subscribe(observer: (s: SnapshotFrom<typeof vmMachine>) => void): { unsubscribe(): void };
}

export interface ChildHooks {
  /** A new failover child runs (its side follows and logs it). */
  failover(child: FailoverRef): void;
  /** A protect transition, after it was logged. */
  protect(record: TransitionRecord, tags: TagChange): void;
  record(machine: 'checkpoint' | 'restore', record: TransitionRecord, tags: TagChange): void;
}

/**
 * Follows the VM machine's children as they come and go: each child's
 * transitions are logged once, with its reason, and handed on. The last
 * restore's snapshot stays readable after the child ended (the status shows
 * how it went).
 */
export class ChildFollower {
  private refs: { failover?: AnyActorRef; protect?: AnyActorRef; restore?: AnyActorRef } = {};
  private follows: { protect?: { unsubscribe(): void }; restore?: { unsubscribe(): void } } = {};
  private lastRestore: RestoreSnapshot | null = null;
  private lastProtect: ProtectSnapshot | null = null;
  private readonly sub: { unsubscribe(): void };

  constructor(private readonly vm: VmActorLike, private readonly log: Logger, private readonly hooks: ChildHooks) {
    this.sub = vm.subscribe(() => this.look());
  }

  private look(): void {
    const c = this.vm.getSnapshot().children as Record<string, AnyActorRef | undefined>;
    if (c.failover && c.failover !== this.refs.failover) this.hooks.failover(c.failover as unknown as FailoverRef);
    if (c.protect !== this.refs.protect) {
      this.follows.protect?.unsubscribe();
      this.follows.protect = c.protect ? this.followProtect(c.protect as unknown as ProtectRef) : undefined;
    }
    if (c.restore !== this.refs.restore) {
      this.follows.restore?.unsubscribe();
      this.follows.restore = c.restore ? this.followRestore(c.restore as unknown as RestoreRef) : undefined;
    }
    this.refs = { failover: c.failover, protect: c.protect, restore: c.restore };
  }

  private followProtect(child: ProtectRef) {
    return followTransitions(
      child,
      (record, snap, tags) => {
        this.lastProtect = snap;
        this.log[snap.hasTag('degraded') ? 'warn' : 'info']({ machine: 'checkpoint', role: snap.context.role, from: record.from, to: record.to, reason: record.reason }, 'transition');
        this.hooks.protect(record, tags);
        this.hooks.record('checkpoint', record, tags);
      },
      (e) => this.log.error({ reason: errorMessage(e) }, 'checkpoint machine crashed'),
      { fromCurrent: true },
    );
  }

  private followRestore(child: RestoreRef) {
    return followTransitions(
      child,
      (record, snap, tags) => {
        this.lastRestore = snap;
        const level = snap.matches('backingOff') || snap.matches('aborted') ? 'warn' : 'info';
        this.log[level]({ machine: 'restore', from: record.from, to: record.to, reason: record.reason, attempts: snap.context.attempts }, 'transition');
        this.hooks.record('restore', record, tags);
      },
      (e) => this.log.error({ reason: errorMessage(e) }, 'restore machine crashed'),
      { fromCurrent: true },
    );
  }

  failover(): FailoverRef | undefined {
    return this.refs.failover as unknown as FailoverRef | undefined;
  }

  protect(): ProtectRef | null {
    return (this.refs.protect as unknown as ProtectRef | undefined) ?? null;
  }

  /** The protect child's snapshot, or the last one's while the VM machine is between children (rejoining). */
  protectSnapshot(): ProtectSnapshot | null {
    return this.protect()?.getSnapshot() ?? this.lastProtect;
  }

  /** The running restore's snapshot, or the last one's as it ended. */
  restoreSnapshot(): RestoreSnapshotView | null {
    const live = this.refs.restore as unknown as RestoreRef | undefined;
    return live?.getSnapshot() ?? this.lastRestore;
  }

  stop(): void {
    this.sub.unsubscribe();
    this.follows.protect?.unsubscribe();
    this.follows.restore?.unsubscribe();
  }
}
