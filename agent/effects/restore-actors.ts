import { fromPromise } from 'xstate';
import { awaitMirrorReady, awaitPeerReady, cleanUpResync, primaryDiskSizes, setMirrorSpeed, startMirror, switchOver } from '../../primary/index.js';
import { restoreMachine, type PeerEndpoints, type ResyncProgress } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { RemoteError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { acceptedReplySchema, subjects, type Bus } from '../../shared/nats/index.js';
import type { QemuImg } from '../../shared/qemu-img/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import { PEER_POLL_MS } from './protect.js';
import { qmpCallWithin } from '../../shared/qmp/index.js';

/** The lost node stops its old qemu before it answers a rejoin: allow for that, well beyond one QMP call. */
const REJOIN_REPLY_TIMEOUT_MS = 10_000;
/** The resync's progress is read this often (each read is one query-block-jobs). */
const RESYNC_POLL_MS = 10;

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
  /** Resolve once qemu's own block graph shows every COLO disk replicating to the new secondary (the audit). */
  verifyReplication(signal: AbortSignal): Promise<void>;
  /** About to ask the lost node to start over as a fresh secondary. */
  onRejoinRequested(): void;
  /** About to link fresh replication children. */
  onLinking(): void;
  onProgress(progress: ResyncProgress): void;
}

/** The survivor's restore effects on this qemu; the bandwidth can change while a resync runs. */
export class RestoreEffects {
  private bandwidth: number;
  private resyncing = false;

  constructor(private readonly h: RestoreHost) {
    this.bandwidth = h.config.restore.bandwidthBytesPerSec;
  }

  async setBandwidth(bytesPerSec: number): Promise<void> {
    this.bandwidth = bytesPerSec;
    if (this.resyncing) await setMirrorSpeed(this.h.requireVm().qmp, this.h.plan(), bytesPerSec, this.call());
  }

  private get call() {
    return qmpCallWithin(this.h.config.timings.qmpTimeoutMs);
  }

  /** Bound a wait on the peer by the protect timeout, and by leaving the state. */
  private bounded(signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.h.config.timings.protectTimeoutMs)]);
  }

  /** The restore machine with these effects (the VM machine invokes it). */
  machine() {
    const h = this.h;
    const { config } = h;
    return restoreMachine.provide({
      actors: {
        requestRejoin: fromPromise(async () => {
          h.onRejoinRequested();
          const disks = await primaryDiskSizes(h.plan(), h.img);
          const reply = await h.bus.request(subjects.rpc(config.pair, h.plan().vm, h.peerName, 'rejoin'), { epoch: h.epoch(), disks }, acceptedReplySchema, { timeoutMs: REJOIN_REPLY_TIMEOUT_MS });
          if (!reply.accepted) throw new RemoteError('REJOIN_REFUSED', `${h.peerName} refused to rejoin: ${reply.reason}`);
        }),
        awaitPeerReady: fromPromise(async ({ signal }) =>
          awaitPeerReady(h.bus, {
            ...{ pair: config.pair, vm: h.plan().vm, peerNode: h.peerName, disks: await primaryDiskSizes(h.plan(), h.img), accel: h.plan().accel, pollMs: PEER_POLL_MS, log: h.log },
            ...this.call(this.bounded(signal)),
          }),
        ),
        resync: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async ({ input, signal }) => {
          const qmp = h.requireVm().qmp;
          this.resyncing = true;
          try {
            await startMirror(qmp, h.plan(), input.peer, this.bandwidth, this.call(signal));
            await awaitMirrorReady(qmp, h.plan(), (progress) => h.onProgress(progress), { ...this.call(signal), pollMs: RESYNC_POLL_MS });
          } finally {
            this.resyncing = false;
          }
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
  }
}
