/**
 * The VM-level decisions that used to sit in the agent as inline conditions:
 * pure, over what the machines' snapshots show, so each is tested alone.
 */
import { FAILOVER_PHASE_DEPTH, phaseOf } from './status.js';

export type VmRole = 'primary' | 'secondary';

/** What a failover snapshot shows, as far as these decisions need it. */
export interface FailoverView {
  value: unknown;
  hasTag(tag: string): boolean;
}

const alone = (fo: FailoverView): boolean => fo.hasTag('alone');

/** This node serves the VM: running alone after a failover, or the watching primary. */
export function servesVm(o: { qemuRunning: boolean; role: VmRole; failover: FailoverView }): boolean {
  return o.qemuRunning && (alone(o.failover) || (o.role === 'primary' && o.failover.hasTag('watching')));
}

/** Why the survivor's request to start over as a fresh secondary is refused; null: accept it. */
export function rejoinRefusal(o: { vm: string; qemuRunning: boolean; role: VmRole; failover: FailoverView; knownEpoch: number; requestEpoch: number }): string | null {
  if (servesVm(o)) return `this node still runs ${o.vm} as ${o.role} (failover ${phaseOf(o.failover.value, FAILOVER_PHASE_DEPTH)})`;
  if (o.requestEpoch < o.knownEpoch) return `stale request: epoch ${o.requestEpoch} < ${o.knownEpoch}`;
  return null;
}

/** A restore aimed at a node that is not this pair's other one is refused before anything changes; null: the target is right. */
export function wrongRestoreTarget(peer: string, to: string | undefined): string | null {
  return to && to !== peer ? `${to} is not this pair's other node (${peer})` : null;
}

/** Why an operator's restore request is refused here; null: restore. */
export function restoreRefusal(o: { peer: string; to?: string; failover: FailoverView }): string | null {
  return wrongRestoreTarget(o.peer, o.to) ?? (alone(o.failover) ? null : `not running alone here (failover ${phaseOf(o.failover.value, FAILOVER_PHASE_DEPTH)})`);
}

/** Bring protection back on its own (config `restore.auto`): the survivor runs alone, holds the lease, and the lost node's agent is back. */
export function shouldAutoRestore(o: { auto: boolean; restoreRunning: boolean; failover: FailoverView; peerAgentAlive: boolean; leaseHeld: boolean }): boolean {
  return o.auto && !o.restoreRunning && alone(o.failover) && o.peerAgentAlive && o.leaseHeld;
}

/** The secondary answers the primary's readiness question with ready only when its machine is ready and no failover is under way. */
export function readyAsSecondary(o: { role: VmRole; protectReady: boolean; failover: FailoverView }): boolean {
  return o.role === 'secondary' && o.protectReady && o.failover.hasTag('watching');
}
