import type { ActorRefFrom } from 'xstate';
import type { checkpointMachine } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { ColoError, errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { sleep, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import type { FailoverSide } from '../effects/failover-side.js';
import { auditReplication, type TimedAudit } from '../effects/replication-auditor.js';

export interface ReplicationWatchDeps {
  config: Config;
  kvmUsable: boolean;
  log: Logger;
  vm(): VmInstance | null;
  plan(): VmPlan;
  checkpoint(): ActorRefFrom<typeof checkpointMachine> | null;
  failover(): FailoverSide;
}

/** Consecutive failed audits before the primary drops an unreplicated secondary (its heartbeat has told the peer by then). */
const REPAIR_AFTER_FAILED_AUDITS = 2;
/** A mismatch is read again after this long before it counts. */
const CONFIRM_MS = 100;
/** A restore's verification reads qemu for about a second (50 x 20 ms) before a mismatch counts. */
const VERIFY_ATTEMPTS = 50;
const VERIFY_RETRY_MS = 20;

/**
 * Runs the replication audit against this node's qemu while COLO runs and
 * hands each verdict to the machines (the checkpoint machine decides protected
 * or unreplicated; the failover side learns who is promotable). A QMP read that
 * fails is no verdict: only what qemu showed counts.
 */
export class ReplicationWatch {
  private running = false;
  private failures = 0;
  /** Disks whose replication child qemu reported a failed write on (QUORUM_REPORT_BAD), since the child was last linked. */
  private readonly missed = new Map<number, string>();

  private linkedAt = 0;

  /**
   * The replication children are about to be linked afresh (protection, restore) or are
   * unseen so far (adoption). Failures qemu reported before now were about the old children
   * (a lost secondary's broken link), even when their events arrive after this call.
   */
  reset(): void {
    this.missed.clear();
    this.linkedAt = Date.now();
  }

  /** qemu's QUORUM_REPORT_BAD for a write: if it names a replication child, that disk missed a write on the secondary. */
  noteWriteFailure(node: string, detail: string, atMs: number): void {
    if (atMs < this.linkedAt) return;
    const disk = this.d.plan().disks.find((d) => d.ids.replicationNode === node || d.ids.nbdNode === node);
    if (!disk || this.missed.has(disk.index)) return;
    this.missed.set(disk.index, detail);
    this.d.log.warn({ disk: disk.index, reason: detail }, 'qemu reports a write that did not reach the secondary');
    void this.run();
  }

  constructor(private readonly d: ReplicationWatchDeps) {}

  async run(): Promise<TimedAudit | null> {
    const vm = this.d.vm();
    const cp = this.d.checkpoint();
    if (!vm || !vm.proc.isRunning || !cp || this.running) return null;
    const snap = cp.getSnapshot();
    if (!snap.matches('coloRunning') && !snap.matches('unreplicated')) return null;
    const fo = this.d.failover();
    if (fo.snapshot()?.hasTag('failingOver')) return null;
    this.running = true;
    try {
      const plan = this.d.plan();
      const o = { timeoutMs: this.d.config.timings.qmpTimeoutMs, kvmUsable: this.d.kvmUsable, missedWrites: this.missed };
      let audit = await auditReplication(vm, plan, this.d.config, o);
      if (audit.state === 'degraded') {
        // qemu builds the graph in steps while COLO starts (the backup job's filter comes last): confirm a mismatch once.
        await sleep(CONFIRM_MS);
        audit = await auditReplication(vm, plan, this.d.config, o);
      }
      if (this.d.vm() !== vm || this.d.checkpoint() !== cp) return null;
      cp.send({ type: 'REPLICATION_AUDITED', audit });
      const ok = audit.state !== 'degraded';
      this.d.failover().replicationAudited(ok, audit.reason);
      this.maybeRepair(plan, ok, audit.reason);
      return audit;
    } catch (e) {
      this.d.log.debug({ reason: errorMessage(e) }, 'replication audit could not read qemu');
      return null;
    } finally {
      this.running = false;
    }
  }

  private maybeRepair(plan: VmPlan, ok: boolean, reason: string): void {
    if (ok || plan.role !== 'primary') {
      this.failures = 0;
      return;
    }
    this.failures++;
    const fo = this.d.failover();
    const safe = fo.lease.isHeldLocally() && fo.heartbeat.isPeerAlive && fo.snapshot()?.hasTag('watching') === true;
    if (this.d.config.restore.repair && safe && this.failures >= REPAIR_AFTER_FAILED_AUDITS) {
      this.failures = 0;
      this.d.log.warn({ reason }, 'replication audit failed twice: dropping the secondary so a resync repairs it');
      fo.replicationBroken(reason);
    }
  }

  /** Restore: resolve once qemu shows every COLO disk replicating to the new secondary; fail with the audit's reason otherwise. */
  async verify(plan: VmPlan, signal: AbortSignal): Promise<void> {
    let last = 'no audit could read qemu';
    // The graph is settled once COLO runs: a mismatch that outlasts a second of retries is real.
    for (let attempt = 0; attempt < VERIFY_ATTEMPTS && !signal.aborted; attempt++) {
      const vm = this.d.vm();
      if (!vm || !vm.proc.isRunning) throw new ColoError('qemu is not running', 'local');
      try {
        const audit = await auditReplication(vm, plan, this.d.config, { timeoutMs: this.d.config.timings.qmpTimeoutMs, signal, kvmUsable: this.d.kvmUsable, missedWrites: this.missed });
        if (audit.state !== 'degraded') return;
        last = audit.reason;
      } catch (e) {
        last = errorMessage(e);
      }
      await sleep(VERIFY_RETRY_MS, signal).catch(() => undefined);
    }
    throw new ColoError(`replication not verified in qemu: ${last}`, 'local');
  }
}
