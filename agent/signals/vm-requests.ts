import { waitFor, type Actor, type ActorRefFrom } from 'xstate';
import { readinessReply } from '../../secondary/index.js';
import { ensureSecondaryRelay } from '../../shared/qemu/index.js';
import { readyAsSecondary, wrongRestoreTarget, type checkpointMachine, type vmMachine } from '../../state-machines/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { AcceptedReply, ReadinessReply, ReadinessRequest, RejoinRequest, RestoreRequest } from '../../shared/nats/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import type { FailoverSide } from '../effects/failover-side.js';
import type { RestoreEffects } from '../effects/restore-actors.js';

export interface VmRequestsHost {
  node: string;
  peer: string;
  log: Logger;
  machine: Actor<typeof vmMachine>;
  restore: RestoreEffects;
  side(): FailoverSide | null;
  vm(): VmInstance | null;
  plan(): VmPlan;
  protect(): ActorRefFrom<typeof checkpointMachine> | null;
  coloSizes(): Map<number, number> | null;
}

/** The peer's and the operator's requests: each becomes a VM machine event, and the reply says what the machine decided. */
export class VmRequests {
  constructor(private readonly h: VmRequestsHost) {}

  /** The survivor asks this node to start over as a fresh secondary (restore). The VM machine refuses while this node serves the VM. */
  rejoin = async (req: RejoinRequest): Promise<AcceptedReply> => {
    const { machine, node } = this.h;
    machine.send({ type: 'REJOIN_REQUESTED', epoch: req.epoch, knownEpoch: this.h.side()?.epoch ?? 0, qemuRunning: this.h.vm()?.proc.isRunning === true, disks: req.disks });
    const s = machine.getSnapshot();
    if (!s.matches('rejoining')) return { accepted: false, node, reason: s.context.refusal ?? 'not accepted' };
    this.h.log.warn({ epoch: req.epoch }, 'rejoining as a fresh secondary');
    await waitFor(machine, (snap) => !snap.matches('rejoining'), { timeout: Infinity });
    return { accepted: true, node, reason: 'starting as a fresh secondary' };
  };

  requestRestore = async (req: RestoreRequest): Promise<AcceptedReply> => {
    const { machine, node, peer } = this.h;
    const wrongPeer = wrongRestoreTarget(peer, req.to);
    if (wrongPeer) return { accepted: false, node, reason: wrongPeer };
    machine.send({ type: 'RESTORE_REQUESTED', at: Date.now(), to: req.to });
    const s = machine.getSnapshot();
    const bandwidth = req.bandwidthBytesPerSec;
    // A limit is for a restore that runs: kept silently for some later one, it would surprise whoever starts that.
    if (!s.matches({ running: { restore: 'restoring' } })) return { accepted: false, node, reason: `${s.context.refusal ?? 'not running alone here'}${bandwidth === undefined ? '' : '; bandwidth limit not kept'}` };
    if (bandwidth !== undefined) await this.h.restore.setBandwidth(bandwidth);
    const limit = bandwidth === undefined ? '' : `; bandwidth limit ${bandwidth === 0 ? 'off' : `${bandwidth} B/s`} applied now`;
    return { accepted: true, node, reason: `restoring protection onto ${peer}${limit}` };
  };

  /** The primary asks whether this secondary is ready; a disk it refuses is told to the protect child too. */
  readiness = (req: ReadinessRequest): ReadinessReply => {
    const snap = this.h.protect()?.getSnapshot();
    const failover = this.h.side()?.snapshot();
    const ready = failover !== undefined && readyAsSecondary({ role: this.h.machine.getSnapshot().context.role, protectReady: snap?.hasTag('ready') === true, failover });
    try {
      const reply = readinessReply(this.h.plan(), ready, snap?.context.reason ?? 'starting', this.h.coloSizes() ?? new Map(), req);
      // The relay takes one connection and ends with it: a primary trying again finds a fresh one.
      if (reply.ready && this.h.vm()) ensureSecondaryRelay(this.h.plan(), this.h.log);
      return reply;
    } catch (e) {
      // The bus logs the refusal it answers with, at a bounded rate (anyone can send a readiness request a thousand times).
      this.h.log.debug({ reason: errorMessage(e) }, 'refused the primary');
      this.h.machine.send({ type: 'PRIMARY_REFUSED', reason: errorMessage(e) });
      throw e;
    }
  };
}
