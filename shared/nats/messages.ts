import { z } from 'zod';

/** Every message that crosses a process boundary, checked on receipt. Our own messages are strict. */

export const roleSchema = z.enum(['primary', 'secondary', 'none']);
export type Role = z.infer<typeof roleSchema>;

export const coloModeSchema = z.enum(['primary', 'secondary', 'none']);

export const checkpointFiguresSchema = z
  .object({
    count: z.number().int().nonnegative(),
    ratePerSec: z.number().nonnegative(),
    lastPauseMs: z.number().nonnegative().nullable(),
    lastAgeMs: z.number().nonnegative().nullable(),
    /** Pause percentiles (qemu's STOP to RESUME) over the last minute; null when no checkpoint completed in it. */
    pauseMsP50: z.number().nonnegative().nullable().default(null),
    pauseMsP99: z.number().nonnegative().nullable().default(null),
    /** Share of wall time the guest was stopped over the last minute (0..1). */
    pausedFraction: z.number().min(0).max(1).nullable().default(null),
    /** The latest checkpoints with their completion times (at most 50), so a reader sampling the status sees each one. */
    recentPauses: z.array(z.object({ at: z.number(), ms: z.number().nonnegative() }).strict()).max(50).default([]),
  })
  .strict();
export type CheckpointFigures = z.infer<typeof checkpointFiguresSchema>;

/** One node's view of one VM, as its agent reports it. */
const replicationStateSchema = z.enum(['replicating', 'degraded', 'none']);
/** What the last audit of qemu's block graph said (state-machines/checkpoint.ts `replication`). */
export const replicationViewSchema = z
  .object({ state: replicationStateSchema, reason: z.string(), checkedAgoMs: z.number().nonnegative().nullable() })
  .strict();
export type ReplicationViewMessage = z.infer<typeof replicationViewSchema>;

/** One NIC on one node as qemu shows it: its COLO proxy's objects, and colo-compare's figures read from qemu's trace. */
export const nicStatusSchema = z
  .object({
    index: z.number().int().nonnegative(),
    netdev: z.string(),
    mac: z.string(),
    proxied: z.boolean(),
    /** null while qemu has not answered (not running, or the read failed). */
    proxy: z.enum(['primary', 'secondary', 'rewriter', 'none', 'partial']).nullable(),
    objects: z.array(z.string()),
    /** colo-compare's figures on this qemu since it was attached; null where no colo-compare has run. */
    packetsCompared: z.number().int().nonnegative().nullable(),
    miscompares: z.number().int().nonnegative().nullable(),
    miscompareCheckpoints: z.number().int().nonnegative().nullable(),
  })
  .strict();
export type NicStatus = z.infer<typeof nicStatusSchema>;

export const nodeStatusSchema = z
  .object({
    vm: z.string().min(1),
    node: z.string().min(1),
    role: roleSchema,
    phase: z.string().min(1),
    protected: z.boolean(),
    degraded: z.boolean(),
    reason: z.string(),
    epoch: z.number().int().nonnegative(),
    qemuPid: z.number().int().positive().nullable(),
    qmpSocket: z.string(),
    runState: z.string().nullable(),
    coloMode: coloModeSchema.nullable(),
    checkpoints: checkpointFiguresSchema,
    transitions: z
      .array(z.object({ at: z.number(), from: z.string(), to: z.string(), reason: z.string() }).strict())
      .max(50),
    natsConnected: z.boolean(),
    /** Replication as qemu shows it, for the node and per COLO disk; null when no audit has run yet. */
    replication: replicationViewSchema.nullable().default(null),
    disks: z.array(z.object({ index: z.number().int().nonnegative(), replication: replicationViewSchema }).strict()).default([]),
    nics: z.array(nicStatusSchema).default([]),
    /** ms since the peer's last heartbeat, as this node sees it. */
    heartbeatAgeMs: z.number().nonnegative().nullable(),
    /** Read from qemu's objects: its NBD export and COLO stream use the pair's mutual TLS (false: anyone who reaches their ports gets in). */
    dataTls: z.boolean().nullable().default(null),
    /** The failover machine's view; wall-clock ms for the timeline of the last failover. */
    /** The survivor's restore of a fresh secondary, while one runs or after it ended. */
    resync: z
      .object({
        phase: z.string(),
        peer: z.string(),
        attempts: z.number().int().nonnegative(),
        bytesDone: z.number().nonnegative(),
        bytesTotal: z.number().nonnegative(),
        rateBytesPerSec: z.number().nonnegative(),
        etaMs: z.number().nonnegative().nullable(),
        startedAt: z.number().nullable(),
        resyncStartedAt: z.number().nullable(),
        resyncReadyAt: z.number().nullable(),
        pauseMs: z.number().nonnegative().nullable(),
        doneAt: z.number().nullable(),
      })
      .strict()
      .nullable(),
    failover: z
      .object({
        phase: z.string(),
        trigger: z.string().nullable(),
        detectedAt: z.number().nullable(),
        leaseWonAt: z.number().nullable(),
        takeoverAt: z.number().nullable(),
        /** ms per step of the last takeover or carry-on (steps cut during the claim are not in it). */
        takeoverSteps: z.record(z.string(), z.number().nonnegative()).nullable().default(null),
      })
      .strict()
      .nullable(),
    sentAt: z.number(),
  })
  .strict();
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const emptyRequestSchema = z.object({}).strict();

export const agentStatusReplySchema = z
  .object({ node: z.string().min(1), vms: z.array(nodeStatusSchema) })
  .strict();
export type AgentStatusReply = z.infer<typeof agentStatusReplySchema>;

/** The primary's question to the secondary, carrying its disk sizes so a mismatch is refused. */
export const readinessRequestSchema = z
  .object({
    disks: z.array(z.object({ index: z.number().int().nonnegative(), sizeBytes: z.number().int().positive() }).strict()),
    /** The primary qemu's accelerator: the COLO stream only loads into a qemu with the same one. */
    accel: z.enum(['kvm', 'tcg']).optional(),
  })
  .strict();
export type ReadinessRequest = z.infer<typeof readinessRequestSchema>;

/** The secondary's answer to "are you ready to receive the COLO stream?". */
export const readinessReplySchema = z
  .object({
    ready: z.boolean(),
    node: z.string().min(1),
    reason: z.string(),
    migrationUri: z.string().regex(/^tcp:[^:]+:\d+$/).optional(),
    nbd: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict().optional(),
    disks: z
      .array(
        z
          .object({
            index: z.number().int().nonnegative(),
            exportName: z.string().min(1),
            sizeBytes: z.number().int().positive(),
          })
          .strict(),
      )
      .optional(),
  })
  .strict();
export type ReadinessReply = z.infer<typeof readinessReplySchema>;

export const heartbeatSchema = z
  .object({
    vm: z.string(),
    node: z.string(),
    role: roleSchema,
    epoch: z.number().int().nonnegative(),
    seq: z.number().int(),
    sentAt: z.number(),
    /** False when the sender's own qemu is gone or hung: the peer may act at once instead of waiting for a timeout. */
    qemuOk: z.boolean(),
    /**
     * The primary's audit found a COLO disk not replicating: the secondary's
     * disk may miss writes, so it must not be promoted until a resync.
     */
    unreplicated: z.boolean().optional(),
  })
  .strict();
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** Envelope of every reply: a handler's result, or an error with a code scripts can read. */
export const replyEnvelopeSchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }).strict() }).strict(),
]);
export type ReplyEnvelope = z.infer<typeof replyEnvelopeSchema>;

export const drillModeSchema = z.enum(['crash', 'hang', 'partition']);
export type DrillMode = z.infer<typeof drillModeSchema>;

/** Sent to the agent of the side to fail; `heal` ends a partition drill. */
export const drillRequestSchema = z.object({ mode: z.enum(['crash', 'hang', 'partition', 'heal']) }).strict();
export type DrillRequest = z.infer<typeof drillRequestSchema>;

export const drillReplySchema = z.object({ node: z.string(), mode: z.string(), faultAt: z.number(), epoch: z.number().int().nonnegative() }).strict();
export type DrillReply = z.infer<typeof drillReplySchema>;

const patternFields = {
  byte: z.number().int().min(0).max(255),
  offset: z.number().int().nonnegative(),
  length: z.number().int().positive().max(64 * 1024 * 1024),
  /** Which disk: the canary (default), or a disk index; a write to a disk a guest device sees is refused. */
  disk: z.union([z.literal('canary'), z.number().int().nonnegative()]).optional(),
};

/** Data checks through qemu-io on the agent's qemu (drills verify what COLO promises). */
export const commandRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('write-pattern'), ...patternFields, awaitCheckpoint: z.boolean() }).strict(),
  z.object({ op: z.literal('verify-pattern'), ...patternFields }).strict(),
]);
export type CommandRequest = z.infer<typeof commandRequestSchema>;

export const commandReplySchema = z
  .object({ ok: z.boolean(), detail: z.string(), checkpointCount: z.number().int().nonnegative().optional(), disk: z.number().int().nonnegative().optional(), canary: z.boolean().optional() })
  .strict();
export type CommandReply = z.infer<typeof commandReplySchema>;

export const eventKindSchema = z.enum([
  'protected',
  'unprotected',
  'failover-started',
  'takeover-done',
  'fenced',
  'qemu-lost',
  'resync-started',
  'resync-done',
  'replication-degraded',
  'replication-verified',
]);
export type EventKind = z.infer<typeof eventKindSchema>;

/** A notable fact on the events subject: what happened, where, under which epoch, and why. */
export const coloEventSchema = z
  .object({ pair: z.string(), vm: z.string(), node: z.string(), kind: eventKindSchema, epoch: z.number().int().nonnegative(), reason: z.string(), at: z.number() })
  .strict();
export type ColoEvent = z.infer<typeof coloEventSchema>;

/* ---- Dashboard feed (issue 5): appended; nothing above changes. ---- */

/** One node of a VM as the feed carries it: the `status --json` node names plus liveness figures. */
export const feedNodeSchema = z
  .object({
    node: z.string(),
    reachable: z.boolean(),
    role: roleSchema.nullable(),
    phase: z.string().nullable(),
    reason: z.string().nullable(),
    qemuPid: z.number().int().positive().nullable(),
    qmpSocket: z.string().nullable(),
    runState: z.string().nullable(),
    coloMode: coloModeSchema.nullable(),
    checkpoints: checkpointFiguresSchema.nullable(),
    replication: replicationViewSchema.nullable().default(null),
    disks: z.array(z.object({ index: z.number().int().nonnegative(), replication: replicationViewSchema }).strict()).default([]),
    nics: z.array(nicStatusSchema).default([]),
    epoch: z.number().int().nonnegative().nullable(),
    natsConnected: z.boolean().nullable(),
    heartbeatAgeMs: z.number().nonnegative().nullable(),
    dataTls: z.boolean().nullable().default(null),
    /** ms since this node's last status reached the feed. */
    lastSeenAgeMs: z.number().nonnegative().nullable(),
    transitions: z.array(z.object({ at: z.number(), from: z.string(), to: z.string(), reason: z.string() }).strict()).max(50),
  })
  .strict();
export type FeedNode = z.infer<typeof feedNodeSchema>;

/** One VM on the dashboard feed (SSE `/events`, `status --watch --json`): the `colo-ft status --json` names plus `pair` and the dashboard's extras. */
export const feedVmStatusSchema = z
  .object({
    pair: z.string(),
    vm: z.string(),
    protected: z.boolean(),
    phase: z.string(),
    reason: z.string(),
    epoch: z.number().int().nonnegative(),
    nodes: z.array(feedNodeSchema),
    checkpoints: checkpointFiguresSchema,
    /** The last checkpoint pauses seen, oldest first (the dashboard's chart). */
    lastPausesMs: z.array(z.number().nonnegative()).max(120),
    lease: z.object({ holder: z.string().nullable(), epoch: z.number().int().nonnegative(), expiresAtMs: z.number() }).strict().nullable(),
    /** The restore of a fresh secondary (as the node running it reports it), while one runs or after it ended. */
    resync: z.object({ node: z.string(), ...nodeStatusSchema.shape.resync.unwrap().shape }).strict().nullable(),
    /** The failover of the node that acted last, as that node reports it. */
    failover: z.object({ node: z.string(), ...nodeStatusSchema.shape.failover.unwrap().shape }).strict().nullable(),
    /** The recent event timeline, oldest first. */
    events: z.array(coloEventSchema).max(50),
    updatedAt: z.number(),
  })
  .strict();
export type FeedVmStatus = z.infer<typeof feedVmStatusSchema>;

const diskSizesSchema = z.array(z.object({ index: z.number().int().nonnegative(), sizeBytes: z.number().int().positive() }).strict());

/** The survivor asks the lost node to start over as a fresh secondary with disks of these sizes. */
export const rejoinRequestSchema = z.object({ epoch: z.number().int().nonnegative(), disks: diskSizesSchema }).strict();
export type RejoinRequest = z.infer<typeof rejoinRequestSchema>;

/** Start (or retry now) the restore of protection; optionally change the resync bandwidth while it runs. */
export const restoreRequestSchema = z
  .object({ to: z.string().min(1).optional(), bandwidthBytesPerSec: z.number().int().nonnegative().optional() })
  .strict();
export type RestoreRequest = z.infer<typeof restoreRequestSchema>;

export const acceptedReplySchema = z.object({ accepted: z.boolean(), node: z.string(), reason: z.string() }).strict();
export type AcceptedReply = z.infer<typeof acceptedReplySchema>;
