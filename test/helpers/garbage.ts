import { createLogger, type Logger } from '../../shared/log.js';
import { rpcVerbs, subjects, type Heartbeat, type RpcVerb } from '../../shared/nats/index.js';

/** nats-server's default max_payload (1 MB): the largest payload the server relays. */
export const MAX_PAYLOAD = 1024 * 1024;

/** A JSON object of exactly `bytes` bytes (a string field padded out). */
export function jsonOfSize(bytes: number): string {
  const frame = '{"junk":""}'.length;
  return `{"junk":"${'x'.repeat(bytes - frame)}"}`;
}

/** The costliest 1 MB to parse and scan: objects nested as deep as the size allows. */
export function deepJsonOfSize(bytes: number): string {
  const depth = Math.floor((bytes - 1) / '{"a":}'.length);
  return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** What no subject accepts: not JSON, not an object, a duplicate key. */
export const ANY_SUBJECT_GARBAGE: readonly string[] = ['', 'not json', '{"mode":', '\u00ff\u00fe\u0000', 'null', '42', '"str"', '[]', 'true', '{"a":1,"a":2}', '{"__proto__":{"x":1}}'];

/** Per verb: valid JSON of the wrong types or values, duplicate keys, and well-formed requests that must be refused (stale epoch, unknown node). */
export const VERB_GARBAGE: Record<RpcVerb | 'agentStatus', readonly string[]> = {
  agentStatus: ['{"x":1}', '{"node":"alpha"}'],
  status: [],
  readiness: ['{"disks":"x"}', '{"disks":[{"index":-1,"sizeBytes":0}]}', '{"disks":[],"accel":"xen"}', '{"disks":[],"disks":[]}', '{"disks":[{"index":0,"sizeBytes":1}]}', '{"disks":[],"accel":"kvm"}'],
  drill: ['{"mode":"explode"}', '{"mode":5}', '{"mode":"crash","mode":"heal"}', '{"mode":"crash","extra":1}', '{}'],
  rejoin: ['{"epoch":"1","disks":[]}', '{"epoch":-1,"disks":[]}', '{"epoch":1.5,"disks":[]}', '{"epoch":0,"disks":[]}', '{"epoch":0,"disks":[{"index":0,"sizeBytes":1}]}'],
  restore: ['{"to":5}', '{"bandwidthBytesPerSec":-1}', '{"to":"gamma"}', '{"to":""}'],
  command: [
    '{"op":"erase"}',
    '{"op":"write-pattern","byte":256,"offset":0,"length":1,"awaitCheckpoint":false}',
    '{"op":"verify-pattern","byte":1,"offset":-1,"length":1}',
    '{"op":"verify-pattern","byte":1,"offset":0,"length":1,"disk":"boot"}',
    '{"op":"verify-pattern","byte":1,"offset":0,"length":134217728}',
  ],
};

/** The request subjects one node's agent serves for one VM (and its node-level status). */
export function servedSubjects(pair: string, vm: string, node: string): Array<{ verb: RpcVerb | 'agentStatus'; subject: string }> {
  const verbs = rpcVerbs.filter((v) => VERB_GARBAGE[v].length > 0);
  return [{ verb: 'agentStatus' as const, subject: subjects.agentStatus(pair, node) }, ...verbs.map((verb) => ({ verb, subject: subjects.rpc(pair, vm, node, verb) }))];
}

/** Heartbeats `from` the peer that must be dropped: each would say the peer's qemu is gone if it were believed. */
export function heartbeatGarbage(vm: string, from: string, epoch: number): string[] {
  const beat = (o: Partial<Record<keyof Heartbeat, unknown>>) => JSON.stringify({ vm, node: from, role: 'secondary', epoch, seq: 1, sentAt: Date.now(), qemuOk: false, ...o });
  return [
    beat({ vm: 'vm9' }), // another VM's name
    beat({ node: 'gamma' }), // another node's name
    beat({ epoch: Math.max(0, epoch - 1) }), // a stale epoch
    beat({ epoch: 'one' }),
    beat({ qemuOk: 'false' }),
    beat({ role: 'king' }),
    beat({ ttl: 1 }),
    `${beat({}).slice(0, -1)},"qemuOk":false}`, // a duplicate key
  ];
}

export interface LogCapture {
  log: Logger;
  lines: Array<{ level: number; msg: string; subject?: string; [k: string]: unknown }>;
  /** Warn-or-worse lines since `from` (an index into lines). */
  warnings(from?: number): LogCapture['lines'];
}

/** A logger whose lines a test reads back (info and up). */
export function captureLog(name: string): LogCapture {
  const lines: LogCapture['lines'] = [];
  const log = createLogger(name, { level: 'info', destination: { write: (l: string) => void lines.push(JSON.parse(l) as LogCapture['lines'][number]) } as never });
  return { log, lines, warnings: (from = 0) => lines.slice(from).filter((l) => l.level >= 40) };
}
