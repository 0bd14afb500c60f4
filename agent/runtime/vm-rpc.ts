import {
  commandRequestSchema,
  drillRequestSchema,
  readinessRequestSchema,
  rejoinRequestSchema,
  restoreRequestSchema,
  subjects,
  type AcceptedReply,
  type Bus,
  type CommandReply,
  type DrillReply,
  type DrillRequest,
  type ReadinessReply,
  type ReadinessRequest,
  type RejoinRequest,
  type RestoreRequest,
  type Unsubscribe,
} from '../../shared/nats/index.js';
import type { PatternDisk } from '../effects/canary.js';

export interface VmRpcHandlers {
  readiness(req: ReadinessRequest): ReadinessReply;
  rejoin(req: RejoinRequest): Promise<AcceptedReply>;
  requestRestore(req: RestoreRequest): Promise<AcceptedReply>;
  writePattern(byte: number, offset: number, length: number, awaitCheckpoint: boolean, disk?: PatternDisk): Promise<CommandReply>;
}

export interface DrillHandlers {
  drill(req: DrillRequest): DrillReply;
  verifyPattern(byte: number, offset: number, length: number, disk?: PatternDisk): Promise<CommandReply>;
}

/** The per-VM request/reply endpoints of one node's agent; every request is schema-checked by the bus first. */
export function serveVmRpc(bus: Bus, pair: string, vm: string, node: string, h: VmRpcHandlers, d: DrillHandlers): Unsubscribe[] {
  const at = (verb: Parameters<typeof subjects.rpc>[3]) => subjects.rpc(pair, vm, node, verb);
  return [
    bus.serve(at('readiness'), readinessRequestSchema, async (req) => h.readiness(req)),
    bus.serve(at('drill'), drillRequestSchema, async (req) => d.drill(req)),
    bus.serve(at('rejoin'), rejoinRequestSchema, (req) => h.rejoin(req)),
    bus.serve(at('restore'), restoreRequestSchema, (req) => h.requestRestore(req)),
    bus.serve(at('command'), commandRequestSchema, async (req) =>
      req.op === 'write-pattern' ? h.writePattern(req.byte, req.offset, req.length, req.awaitCheckpoint, req.disk) : d.verifyPattern(req.byte, req.offset, req.length, req.disk),
    ),
  ];
}
