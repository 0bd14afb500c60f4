import type { NodeStatus } from '../../shared/nats/index.js';
import type { RestoreReport } from '../restore/run-restore.js';

/** The survivor took over: its failover machine runs alone, as primary, under an epoch above the one before the drill. */
export function hasTakenOver(s: NodeStatus | null, epochBefore: number): s is NodeStatus {
  return s !== null && s.failover?.phase === 'runningAlone' && s.role === 'primary' && s.epoch > epochBefore;
}

/** Serving the VM as primary. Gone, fenced (paused) or not answering at all is not serving. */
export function servesAsPrimary(s: NodeStatus | null): boolean {
  return s !== null && s.role === 'primary' && s.qemuPid !== null && s.runState === 'running';
}

/** Running alone (COLO mode none), or already protected again by an automatic restore with the survivor as primary. */
export function runsAsSurvivor(s: NodeStatus | null): boolean {
  return s !== null && s.runState === 'running' && s.role === 'primary' && s.coloMode !== 'secondary';
}

/** What a drill saw; the verdict is drawn from this alone. */
export interface DrillEvidence {
  survivor: string;
  failed: string;
  epochBefore: number;
  timeoutMs: number;
  /** The survivor's status that showed the takeover; null when none did within the timeout. */
  takeover: NodeStatus | null;
  /** The survivor's status at the end of the drill (at the timeout without a takeover); null when its agent did not answer. */
  survivorStatus: NodeStatus | null;
  /** The failed side's last status; null when its agent did not answer. */
  loserStatus: NodeStatus | null;
  /** The pattern read back on the survivor; null when it was not read. */
  data: { verified: boolean; detail: string } | null;
  /** Why the data check could not run (a VM without periodic checkpoints: nothing carries a write to the secondary). */
  dataSkipped?: string;
}

export interface DrillVerdict {
  ok: boolean;
  singleActive: boolean;
  reason: string;
}

/** The promise of a failover: one active VM, a higher epoch, and the pattern written before the fault intact on the survivor. */
export function drillVerdict(e: DrillEvidence): DrillVerdict {
  if (!e.takeover) {
    return { ok: false, singleActive: false, reason: `${e.survivor} did not take over within ${e.timeoutMs} ms: ${e.survivorStatus?.reason ?? 'no answer'}` };
  }
  const dataVerified = e.data?.verified === true;
  const dataRequired = e.dataSkipped === undefined;
  const survivorActive = runsAsSurvivor(e.survivorStatus);
  const loserActive = servesAsPrimary(e.loserStatus);
  const epochHigher = e.takeover.epoch > e.epochBefore;
  const singleActive = survivorActive && !loserActive;
  const ok = singleActive && (dataVerified || !dataRequired) && epochHigher;
  const data = dataRequired ? 'data verified' : `data not checked: ${e.dataSkipped}`;
  if (ok) return { ok, singleActive, reason: `${e.survivor} took over as the single active VM with epoch ${e.takeover.epoch}; ${data}` };
  const reason = [
    !dataRequired && `data not checked: ${e.dataSkipped}`,
    dataRequired && !dataVerified && `pattern not intact on ${e.survivor}: ${e.data?.detail ?? 'not read back'}`,
    !survivorActive && `${e.survivor} is not running alone (run state ${e.survivorStatus?.runState}, COLO ${e.survivorStatus?.coloMode})`,
    loserActive && `${e.failed} is still running as primary`,
    !epochHigher && `${e.survivor} runs with epoch ${e.takeover.epoch}, not above ${e.epochBefore}`,
  ].filter(Boolean).join('; ');
  return { ok, singleActive, reason };
}

/** `drill --restore`: a passed drill passes again only when protection is back with the survivor as primary (roles swapped). */
export function restoredVerdict(drill: { ok: boolean; reason: string; survivor: string }, restore: RestoreReport): { ok: boolean; reason: string } {
  const ok = drill.ok && restore.protected && restore.survivor === drill.survivor;
  return { ok, reason: ok ? drill.reason : `${drill.reason}; restore: ${restore.reason}` };
}
