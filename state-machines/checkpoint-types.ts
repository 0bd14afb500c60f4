import type { ReplicationAudit } from '../shared/disk/index.js';
import type { CheckpointLog } from './checkpoint-figures.js';

/** The last audit of qemu's own replication state (shared/disk/replication-audit.ts), with when it ran. */
export interface ReplicationView extends ReplicationAudit {
  checkedAt: number;
}

/** Where the secondary receives the COLO stream and serves its disks. */
export interface PeerEndpoints {
  node: string;
  migrationUri: string;
  nbd: { host: string; port: number };
  disks: ReadonlyArray<{ index: number; exportName: string; sizeBytes: number }>;
}

export type ColoRole = 'primary' | 'secondary';

export interface CheckpointInput {
  vm: string;
  node: string;
  role: ColoRole;
  protectTimeoutMs: number;
  stallBoundMs: number;
  retryDelayMs: number;
  /** Start by watching a COLO that is already running (after a restore, or when adopting a live qemu). */
  resumeColo?: boolean;
  /** Adopted a live qemu that is not in COLO: keep hands off it, say why. */
  holdAdopted?: boolean;
  /** The reason to show for a resumed or held start. */
  resumeReason?: string;
  /** Skip the first protection's copy of the disks onto the secondary (the operator vouches they are identical). */
  assumeIdentical?: boolean;
}

export interface CheckpointContext extends CheckpointInput {
  reason: string;
  qemuPid: number | null;
  peer: PeerEndpoints | null;
  checkpoints: CheckpointLog;
  attempts: number;
  /** Null until qemu's block graph has been audited in COLO: until then the node is not protected. */
  replication: ReplicationView | null;
  /** Failed protection attempts since COLO last ran (the retry delay doubles with each, up to RETRY_BACKOFF_STEPS). */
  failures: number;
  /** The failover machine acted (took over, carried on, fenced): protection comes back through a restore, not a retry here. */
  standDown: boolean;
}

export type CheckpointEvent =
  | { type: 'CHECKPOINT_COMPLETED'; at: number; pauseMs: number }
  | { type: 'QEMU_EXITED'; reason: string }
  | { type: 'COLO_EXITED'; reason: string }
  /** The secondary turned the primary away (e.g. disk sizes differ); it keeps waiting for a fixed primary. */
  | { type: 'PRIMARY_REFUSED'; reason: string }
  /** Progress of the first protection's copy of the disks onto the secondary. */
  | { type: 'SYNC_PROGRESS'; bytesDone: number; bytesTotal: number }
  /** An audit of qemu's own replication state finished (only successful reads of qemu are sent). */
  | { type: 'REPLICATION_AUDITED'; audit: ReplicationView }
  /** The failover machine acted on this VM: stop retrying the first protection. */
  | { type: 'STAND_DOWN' };
