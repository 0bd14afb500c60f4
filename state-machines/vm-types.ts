/** Input, context and events of the VM machine (state-machines/vm.ts). */
import type { CheckpointEvent } from './checkpoint-types.js';
import type { FailoverEvent, FailoverPolicy } from './failover-types.js';
import type { ResyncProgress } from './restore.js';
import type { VmRole } from './vm-decisions.js';

/** How the VM's children start: protect from scratch, watch a COLO that already runs, or keep hands off an adopted qemu. */
export interface StartKind {
  kind: 'fresh' | 'resume' | 'hold';
  reason?: string;
  /** Adopted as primary: hold the lease again once the failover machine runs. */
  reclaimLease?: boolean;
}

/** What reconciliation found: the role qemu (or the lease) says this node has, and how to start. */
export interface ReconcileOutput {
  role: VmRole;
  start: StartKind;
}

export interface VmInput {
  vm: string;
  node: string;
  peer: string;
  autoRestore: boolean;
  policy: FailoverPolicy;
  timings: {
    protectTimeoutMs: number;
    stallBoundMs: number;
    protectRetryMs: number;
    claimRetryMs: number;
    claimDeadlineMs: number;
    standbyRetryMs: number;
    actionTimeoutMs: number;
    restoreRetryBaseMs: number;
    restoreRetryMaxMs: number;
  };
  assumeIdentical: boolean;
}

/** What the VM machine keeps of its failover child's latest snapshot, for its own decisions. */
export interface FailoverFacts {
  phase: string;
  alone: boolean;
  watching: boolean;
  acted: boolean;
  fencing: boolean;
  role: VmRole;
}

export interface VmContext extends VmInput {
  /** The one place this node's role for the VM lives. */
  role: VmRole;
  /** The role qemu was launched (or adopted) in: its block graph's layout. Changes only with a new qemu. */
  layout: VmRole;
  start: StartKind;
  reason: string;
  failover: FailoverFacts;
  /** Disk sizes the survivor asked for when this node rejoined as a fresh secondary. */
  rejoinSizes: ReadonlyArray<{ index: number; sizeBytes: number }> | null;
  /** Why the last rejoin or restore request was refused (for the reply). */
  refusal: string | null;
  /** COLO ran under the current protect child: the secondary's disk is a replica (the failover child was told). */
  coloRan: boolean;
}

/** Requests and sampled facts that the VM machine decides on itself. */
export type VmOwnEvent =
  | { type: 'REJOIN_REQUESTED'; epoch: number; knownEpoch: number; qemuRunning: boolean; disks: ReadonlyArray<{ index: number; sizeBytes: number }> }
  | { type: 'RESTORE_REQUESTED'; at: number; to?: string }
  | { type: 'AUTO_RESTORE_CHECK'; peerAgentAlive: boolean; leaseHeld: boolean }
  | { type: 'RESYNC_PROGRESS'; progress: ResyncProgress }
  /** Raised by the machine itself when a restore brought protection back. */
  | { type: 'RESTORE_DONE' };

/** Facts for the failover child; the VM machine forwards them. */
export type FailoverSignal = Exclude<FailoverEvent, { type: 'PROMOTABLE' } | { type: 'RESTORED' }>;
/** Facts for the protect child; the VM machine forwards them. */
export type ProtectSignal = Exclude<CheckpointEvent, { type: 'STAND_DOWN' }>;

export type VmEvent = VmOwnEvent | FailoverSignal | ProtectSignal;
