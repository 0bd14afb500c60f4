import { createActor, fromPromise, type Actor } from 'xstate';
import { awaitMirrorReady, awaitPeerReady, cleanUpResync, primaryDiskSizes, setMirrorSpeed, startMirror, switchOver } from '../../primary/index.js';
import { restoreMachine, type PeerEndpoints, type RestoreSnapshotView, type TransitionRecord } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { RemoteError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { acceptedReplySchema, subjects, type Bus } from '../../shared/nats/index.js';
import type { QemuImg, VmInstance, VmPlan } from '../../shared/qemu/index.js';
import { PEER_POLL_MS } from './protect.js';
import { followTransitions } from '../runtime/transitions.js';

/** The lost node stops its old qemu before it answers a rejoin: allow for that, well beyond one QMP call. */
const REJOIN_REPLY_TIMEOUT_MS = 10_000;

export interface RestoreHost {
  config: Config;
  nodeName: string;
  peerName: string;
  bus: Bus;
  img: QemuImg;
  log: Logger;
  plan(): VmPlan;
  requireVm(): VmInstance;
  epoch(): number;
  onTransition(record: TransitionRecord): void;
  /** The pair is in COLO again with this node as primary. */
  onRestored(): void;
  /** Resolve once qemu's own block graph shows every COLO disk replicating to the new secondary (the audit). */
  verifyReplication(signal: AbortSignal): Promise<void>;
  /** About to ask the lost node to start over as a fresh secondary. */
  onRejoinRequested(): void;
  /** About to link fresh replication children. */
  onLinking(): void;
}

/** The survivor's side of a restore: one restore machine at a time, with its effects on this qemu. */
export class RestoreRunner {
  private actor: Actor<typeof restoreMachine> | null = null;
  private bandwidth: number;

  constructor(private readonly h: RestoreHost) {
    this.bandwidth = h.config.restore.bandwidthBytesPerSec;
  }

  get isRunning(): boolean {
    const s = this.actor?.getSnapshot();
    return s !== undefined && s.status === 'active' && !s.matches('idle');
  }

  snapshot(): RestoreSnapshotView | null {
    return this.actor?.getSnapshot() ?? null;
  }

  /** Start a restore, or retry now if one is backing off. */
  request(): void {
    const s = this.actor?.getSnapshot();
    if (!this.actor || s?.status !== 'active') this.actor = this.create();
    this.actor.send({ type: 'RESTORE_REQUESTED', at: Date.now() });
  }

  async setBandwidth(bytesPerSec: number): Promise<void> {
    this.bandwidth = bytesPerSec;
    if (this.actor?.getSnapshot().hasTag('resyncing')) await setMirrorSpeed(this.h.requireVm().qmp, this.h.plan(), bytesPerSec, this.call());
  }

  leaseLost(reason: string): void {
    this.actor?.send({ type: 'LEASE_LOST', reason });
  }

  stop(): void {
    this.actor?.stop();
  }

  private call(signal?: AbortSignal) {
    return { timeoutMs: this.h.config.timings.qmpTimeoutMs, signal };
  }

  /** Bound a wait on the peer by the protect timeout, and by leaving the state. */
  private bounded(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.h.config.timings.protectTimeoutMs)]);
  }

  private create(): Actor<typeof restoreMachine> {
    const h = this.h;
    const { config } = h;
    const provided = restoreMachine.provide({
      actors: {
        requestRejoin: fromPromise(async () => {
          h.onRejoinRequested();
          const disks = await primaryDiskSizes(h.plan(), h.img);
          const reply = await h.bus.request(subjects.rpc(config.pair, h.plan().vm, h.peerName, 'rejoin'), { epoch: h.epoch(), disks }, acceptedReplySchema, { timeoutMs: REJOIN_REPLY_TIMEOUT_MS });
          if (!reply.accepted) throw new RemoteError('REJOIN_REFUSED', `${h.peerName} refused to rejoin: ${reply.reason}`);
        }),
        awaitPeerReady: fromPromise(async ({ signal }) =>
          awaitPeerReady(h.bus, {
            pair: config.pair,
            vm: h.plan().vm,
            peerNode: h.peerName,
            disks: await primaryDiskSizes(h.plan(), h.img),
            pollMs: PEER_POLL_MS,
            log: h.log,
            timeoutMs: config.timings.qmpTimeoutMs,
            signal: this.bounded(signal),
          }),
        ),
        resync: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async ({ input, signal }) => {
          const qmp = h.requireVm().qmp;
          await startMirror(qmp, h.plan(), input.peer, this.bandwidth, this.call(signal));
          await awaitMirrorReady(qmp, h.plan(), (progress) => this.actor?.send({ type: 'RESYNC_PROGRESS', progress }), { ...this.call(signal), pollMs: 10 });
        }),
        switchOver: fromPromise<{ pauseMs: number }, { vm: string; peer: PeerEndpoints }>(({ input, signal }) => {
          h.onLinking();
          return switchOver(h.requireVm().qmp, h.plan(), input.peer, { ...this.call(signal), coloSignal: this.bounded(signal) });
        }),
        // switchOver returned once qemu ran again in COLO mode primary (replication started); what is left is the audit.
        migrateIntoColo: fromPromise<void, { vm: string; peer: PeerEndpoints }>(({ signal }) => h.verifyReplication(this.bounded(signal))),
        cleanUp: fromPromise(async () => {
          await cleanUpResync(h.requireVm().qmp, h.plan(), this.call());
        }),
      },
    });
    const actor = createActor(provided, {
      input: { vm: h.plan().vm, node: h.nodeName, peer: h.peerName, retryBaseMs: config.restore.retryBaseMs, retryMaxMs: config.restore.retryMaxMs },
    });
    followTransitions(
      actor,
      (record, snap) => {
        const level = snap.matches('backingOff') || snap.matches('aborted') ? 'warn' : 'info';
        h.log[level]({ machine: 'restore', from: record.from, to: record.to, reason: record.reason, attempts: snap.context.attempts }, 'transition');
        h.onTransition(record);
        if (snap.matches('restored')) h.onRestored();
      },
      (e) => h.log.error({ reason: errorMessage(e) }, 'restore machine crashed'),
    );
    actor.start();
    return actor;
  }
}
