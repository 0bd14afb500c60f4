/** Inputs, context and events of the failover machine (state-machines/failover.ts). */
export type FailoverPolicy = 'strict' | 'relaxed';
export type FailoverRole = 'primary' | 'secondary';

export interface FailoverInput {
  vm: string;
  node: string;
  role: FailoverRole;
  policy: FailoverPolicy;
  epoch: number;
  /** How long to wait before trying the claim again after the peer kept the lease. */
  standbyRetryMs: number;
  /** Between compare-and-set attempts while claiming. */
  claimRetryMs: number;
  /** How long claiming goes on: past it the dead side's lease has expired for certain (one TTL and a margin). */
  claimDeadlineMs: number;
  /** Bound on a takeover or carry-on; past it the node reports failure instead of hanging. */
  actionTimeoutMs: number;
  /**
   * Whether this node's disks hold a complete copy. A secondary becomes
   * promotable only once COLO has run (its disk is in sync); while it is
   * still resyncing it must never take over.
   */
  promotable: boolean;
}

export interface FailoverContext extends FailoverInput {
  reason: string;
  natsUp: boolean;
  peerAlive: boolean;
  /** The peer's agent is silent while its VM evidently runs (checkpoints complete): worth saying in the status. */
  peerSilent: boolean;
  /** Why failover started: kept for the status and the drill timeline. */
  trigger: string | null;
  /** Wall-clock ms of the trigger, the lease win and the takeover, for timelines. */
  detectedAt: number | null;
  leaseWonAt: number | null;
  takeoverAt: number | null;
  /**
   * An audit (ours as secondary, or the primary's, carried by its heartbeat)
   * found a COLO disk not replicating since this node last synced: its disk
   * may miss writes, so it is not promotable until it rejoins as a fresh secondary.
   */
  unreplicatedSinceSync: boolean;
  /** The claim's deadline passed: the next failed attempt decides. */
  claimDeadlinePassed: boolean;
  /** The last failed claim attempt, as the decision needs it. */
  claimFailure: ClaimFailure | null;
  /** The claim just won, until the machine acts on it. */
  claimed: ClaimOutput | null;
  /**
   * The trigger proves this COLO session over for good (qemu left COLO here,
   * the peer announced its qemu gone, or handed the lease over): cutting the
   * links to the peer may then start while the lease is being won.
   */
  coloOver: boolean;
  /** How long each step of the last takeover or carry-on took (ms), for the status and the bench. */
  takeoverSteps: TakeoverSteps | null;
}

/** Per-step durations of a takeover or carry-on, in the order they ran; `prepared` steps overlapped the lease claim. */
export type TakeoverSteps = Record<string, number>;

export interface ActionOutput {
  at: number;
  steps: TakeoverSteps;
}

export interface ClaimFailure {
  /** Lost the compare-and-set to another holder (not NATS trouble). */
  conflict: boolean;
  text: string;
  /** The relaxed policy's forced claim failed too. */
  forced?: boolean;
}

export type FailoverEvent =
  /**
   * The peer went silent (or announced its qemu gone). `coloAlive`: checkpoints
   * still complete here, so the peer's VM is evidently running and only its
   * agent (or its NATS link) is gone.
   */
  | { type: 'PEER_LOST'; reason: string; at: number; coloAlive?: boolean; qemuGone?: boolean }
  /** The holder's qemu is gone and it gave the lease to this node (seen on the lease's watch). */
  | { type: 'LEASE_HANDED_OVER'; reason: string; at: number }
  | { type: 'PEER_BACK' }
  | { type: 'LOCAL_COLO_FAILED'; reason: string; at: number }
  | { type: 'LOCAL_QEMU_LOST'; reason: string; at: number }
  | { type: 'LEASE_LOST'; reason: string }
  | { type: 'NATS_DOWN' }
  | { type: 'NATS_UP' }
  | { type: 'PROMOTABLE'; value: boolean }
  /** An audit found replication broken (see `unreplicatedSinceSync`). */
  | { type: 'REPLICATION_UNVERIFIED'; reason: string }
  /**
   * The primary's audit keeps finding a disk not replicating while it holds
   * the lease and its peer is healthy: drop the secondary (which was told it is
   * not promotable) so a restore can resync it.
   */
  | { type: 'REPLICATION_BROKEN'; reason: string; at: number }
  /** The survivor brought a fresh secondary back into COLO: back to watching as primary. */
  | { type: 'RESTORED' }
  /**
   * Sampled every heartbeat interval: is the peer beating, has it ever, do
   * checkpoints still complete here. A peer that went silent while checkpoints
   * flowed is judged again once they stop.
   */
  | { type: 'SILENT_PEER_CHECK'; peer: string; peerBeating: boolean; everBeat: boolean; coloAlive: boolean; at: number };

export interface ClaimOutput {
  epoch: number;
  at: number;
}
