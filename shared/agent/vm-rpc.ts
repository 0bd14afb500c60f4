import { commandRequestSchema, drillRequestSchema, readinessRequestSchema, subjects, type Bus, type CommandReply, type DrillReply, type DrillRequest, type ReadinessReply, type ReadinessRequest, type Unsubscribe } from '../nats/index.js';

export interface VmRpcHandlers {
  readiness(req: ReadinessRequest): ReadinessReply;
  drill(req: DrillRequest): DrillReply;
  writePattern(byte: number, offset: number, length: number, awaitCheckpoint: boolean): Promise<CommandReply>;
  verifyPattern(byte: number, offset: number, length: number): Promise<CommandReply>;
}

/** The per-VM request/reply endpoints of one node's agent; every request is schema-checked by the bus first. */
export function serveVmRpc(bus: Bus, pair: string, vm: string, node: string, h: VmRpcHandlers): Unsubscribe[] {
  return [
    bus.serve(subjects.rpc(pair, vm, node, 'readiness'), readinessRequestSchema, async (req) => h.readiness(req)),
    bus.serve(subjects.rpc(pair, vm, node, 'drill'), drillRequestSchema, async (req) => h.drill(req)),
    bus.serve(subjects.rpc(pair, vm, node, 'command'), commandRequestSchema, async (req) =>
      req.op === 'write-pattern' ? h.writePattern(req.byte, req.offset, req.length, req.awaitCheckpoint) : h.verifyPattern(req.byte, req.offset, req.length),
    ),
  ];
}
