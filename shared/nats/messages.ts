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
  })
  .strict();
export type CheckpointFigures = z.infer<typeof checkpointFiguresSchema>;

/** One node's view of one VM, as its agent reports it. */
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
  })
  .strict();
export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** Envelope of every reply: a handler's result, or an error with a code scripts can read. */
export const replyEnvelopeSchema = z.union([
  z.object({ ok: z.literal(true), data: z.unknown() }).strict(),
  z.object({ ok: z.literal(false), error: z.object({ code: z.string(), message: z.string() }).strict() }).strict(),
]);
export type ReplyEnvelope = z.infer<typeof replyEnvelopeSchema>;
