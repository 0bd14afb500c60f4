import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ProtocolError } from '../../../../shared/errors.js';
import { decodeWith, encodeJson, MAX_MESSAGE_BYTES, MAX_REQUEST_BYTES } from '../../../../shared/nats/codec.js';
import { kvBuckets, kvKeys } from '../../../../shared/nats/kv-keys.js';
import {
  agentStatusReplySchema,
  checkpointFiguresSchema,
  coloEventSchema,
  emptyRequestSchema,
  eventKindSchema,
  heartbeatSchema,
  nodeStatusSchema,
  readinessReplySchema,
  readinessRequestSchema,
  replyEnvelopeSchema,
  type Heartbeat,
  type NodeStatus,
  type ReadinessReply,
  type ReadinessRequest,
} from '../../../../shared/nats/messages.js';
import { subjects } from '../../../../shared/nats/subjects.js';

const nodeStatus: NodeStatus = {
  vm: 'vm1',
  node: 'alpha',
  role: 'primary',
  phase: 'coloRunning',
  protected: true,
  degraded: false,
  reason: 'COLO running',
  epoch: 2,
  qemuPid: 4242,
  qmpSocket: '/run/a/vm1/qmp.sock',
  runState: 'running',
  coloMode: 'primary',
  checkpoints: { count: 10, ratePerSec: 4.5, lastPauseMs: 12.25, lastAgeMs: 80, pauseMsP50: 12, pauseMsP99: 14.5, pausedFraction: 0.06, recentPauses: [{ at: 1_700_000_000_000, ms: 12.25 }] },
  transitions: [{ at: 1, from: 'enteringColo', to: 'coloRunning', reason: 'COLO running' }],
  natsConnected: true,
  replication: { state: 'replicating', reason: "every COLO disk replicates (1 checked in qemu's block graph)", checkedAgoMs: 350 },
  disks: [{ index: 0, replication: { state: 'replicating', reason: 'disk 0: quorum colo-disk0 writes the local image and 127.0.0.1:9101/d0', checkedAgoMs: 350 } }],
  nics: [{ index: 0, netdev: 'hn0', mac: '52:54:00:12:34:56', proxied: true, proxy: 'primary', objects: ['comp0', 'iothread0', 'm0', 'redire0a', 'redire0b'], packetsCompared: 12, miscompares: 1, miscompareCheckpoints: 1 }],
  heartbeatAgeMs: 42,
  dataTls: true,
  resync: null,
  failover: { phase: 'watching', trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null, takeoverSteps: null },
  sentAt: 1_700_000_000_000,
};

/** A NodeStatus as an agent from before the replication audit sent it. */
const { replication: _r, disks: _d, nics: _n, ...nodeStatusWithoutAudit } = nodeStatus;

const readinessReply: ReadinessReply = {
  ready: true,
  node: 'beta',
  reason: 'ready',
  migrationUri: 'tcp:127.0.0.1:9100',
  nbd: { host: '127.0.0.1', port: 9101 },
  disks: [{ index: 0, exportName: 'd0', sizeBytes: 1 << 20 }],
};

const readinessRequest: ReadinessRequest = { disks: [{ index: 0, sizeBytes: 1 << 20 }] };

const heartbeat: Heartbeat = { vm: 'vm1', node: 'alpha', role: 'primary', epoch: 2, seq: 17, sentAt: 1_700_000_000_000, qemuOk: true };

/** JSON over the wire and back through the schema. */
function roundTrip<T>(schema: z.ZodType<T>, value: T): T {
  return decodeWith(schema, encodeJson(value), 'colo.test');
}

describe('message schemas round-trip', () => {
  it.each([
    ['NodeStatus', nodeStatusSchema, nodeStatus],
    ['ReadinessReply', readinessReplySchema, readinessReply],
    ['ReadinessReply (not ready, no endpoints)', readinessReplySchema, { ready: false, node: 'beta', reason: 'disks missing' }],
    ['ReadinessRequest', readinessRequestSchema, readinessRequest],
    ['NodeStatus before any audit', nodeStatusSchema, { ...nodeStatus, replication: null, disks: [] }],
    ['NodeStatus with a degraded disk', nodeStatusSchema, {
      ...nodeStatus,
      protected: false,
      replication: { state: 'degraded', reason: 'disk 0: the quorum colo-disk0 has no replication child', checkedAgoMs: null },
      disks: [{ index: 0, replication: { state: 'degraded', reason: 'disk 0: the quorum colo-disk0 has no replication child', checkedAgoMs: null } }],
    }],
    ['Heartbeat', heartbeatSchema, heartbeat],
    ['Heartbeat with unreplicated', heartbeatSchema, { ...heartbeat, unreplicated: true }],
    ['AgentStatusReply', agentStatusReplySchema, { node: 'alpha', vms: [nodeStatus] }],
    ['reply envelope ok', replyEnvelopeSchema, { ok: true, data: { anything: [1, 2] } }],
    ['reply envelope error', replyEnvelopeSchema, { ok: false, error: { code: 'BAD_REQUEST', message: 'disks.0: required' } }],
    ['empty request', emptyRequestSchema, {}],
  ] as const)('%s', (_name, schema, value) => {
    expect(roundTrip(schema as z.ZodType<unknown>, value)).toEqual(value);
  });

  it('a NodeStatus without replication, disks and nics decodes with the defaults (null, [], [])', () => {
    const decoded = roundTrip(nodeStatusSchema, nodeStatusWithoutAudit as NodeStatus);
    expect(decoded).toEqual({ ...nodeStatusWithoutAudit, replication: null, disks: [], nics: [] });
    expect(roundTrip(agentStatusReplySchema, { node: 'alpha', vms: [nodeStatusWithoutAudit as NodeStatus] }).vms[0]).toMatchObject({ replication: null, disks: [] });
  });

  it('a heartbeat without unreplicated stays without it', () => {
    expect(roundTrip(heartbeatSchema, heartbeat)).not.toHaveProperty('unreplicated');
  });

  it('events announce replication degraded and verified', () => {
    expect(eventKindSchema.options).toEqual(expect.arrayContaining(['replication-degraded', 'replication-verified']));
    for (const kind of ['replication-degraded', 'replication-verified'] as const) {
      const e = { pair: 'p1', vm: 'vm1', node: 'alpha', kind, epoch: 2, reason: 'disk 0: audited', at: 1 };
      expect(roundTrip(coloEventSchema, e)).toEqual(e);
    }
  });
});

describe('message schemas are strict', () => {
  it.each([
    ['NodeStatus', nodeStatusSchema, { ...nodeStatus, extra: 1 }],
    ['NodeStatus.checkpoints', nodeStatusSchema, { ...nodeStatus, checkpoints: { ...nodeStatus.checkpoints, p99: 1 } }],
    ['NodeStatus.transitions[]', nodeStatusSchema, { ...nodeStatus, transitions: [{ at: 1, from: 'a', to: 'b', reason: 'r', by: 'x' }] }],
    ['NodeStatus.replication', nodeStatusSchema, { ...nodeStatus, replication: { ...nodeStatus.replication, disks: [] } }],
    ['NodeStatus.disks[]', nodeStatusSchema, { ...nodeStatus, disks: [{ ...nodeStatus.disks[0], path: '/x' }] }],
    ['NodeStatus.nics[]', nodeStatusSchema, { ...nodeStatus, nics: [{ ...nodeStatus.nics[0], extra: 1 }] }],
    ['NodeStatus.disks[].replication', nodeStatusSchema, { ...nodeStatus, disks: [{ index: 0, replication: { ...nodeStatus.replication, at: 1 } }] }],
    ['ReadinessReply', readinessReplySchema, { ...readinessReply, epoch: 1 }],
    ['ReadinessReply.nbd', readinessReplySchema, { ...readinessReply, nbd: { host: 'h', port: 1, tls: true } }],
    ['ReadinessReply.disks[]', readinessReplySchema, { ...readinessReply, disks: [{ index: 0, exportName: 'd0', sizeBytes: 1, path: '/x' }] }],
    ['ReadinessRequest', readinessRequestSchema, { ...readinessRequest, vm: 'vm1' }],
    ['ReadinessRequest.disks[]', readinessRequestSchema, { disks: [{ index: 0, sizeBytes: 1, format: 'raw' }] }],
    ['Heartbeat', heartbeatSchema, { ...heartbeat, ttl: 1 }],
    ['CheckpointFigures', checkpointFiguresSchema, { ...nodeStatus.checkpoints, more: 0 }],
    ['AgentStatusReply', agentStatusReplySchema, { node: 'alpha', vms: [], at: 1 }],
    ['reply envelope ok', replyEnvelopeSchema, { ok: true, data: 1, warning: 'x' }],
    ['reply envelope error', replyEnvelopeSchema, { ok: false, error: { code: 'X', message: 'm', stack: 's' } }],
    ['empty request', emptyRequestSchema, { verbose: true }],
  ] as const)('%s rejects an unknown key', (_name, schema, value) => {
    expect((schema as z.ZodType<unknown>).safeParse(value).success).toBe(false);
  });
});

describe('message schemas reject bad values', () => {
  it.each([
    ['role outside the enum', nodeStatusSchema, { ...nodeStatus, role: 'leader' }],
    ['negative epoch', nodeStatusSchema, { ...nodeStatus, epoch: -1 }],
    ['zero qemu pid', nodeStatusSchema, { ...nodeStatus, qemuPid: 0 }],
    ['more than 50 transitions', nodeStatusSchema, { ...nodeStatus, transitions: Array(51).fill(nodeStatus.transitions[0]) }],
    ['migrationUri without tcp:', readinessReplySchema, { ...readinessReply, migrationUri: 'unix:/x' }],
    ['nbd port out of range', readinessReplySchema, { ...readinessReply, nbd: { host: 'h', port: 70_000 } }],
    ['zero disk size', readinessRequestSchema, { disks: [{ index: 0, sizeBytes: 0 }] }],
    ['replication state outside the enum', nodeStatusSchema, { ...nodeStatus, replication: { state: 'ok', reason: 'r', checkedAgoMs: 1 } }],
    ['negative checkedAgoMs', nodeStatusSchema, { ...nodeStatus, replication: { state: 'replicating', reason: 'r', checkedAgoMs: -1 } }],
    ['negative disk index', nodeStatusSchema, { ...nodeStatus, disks: [{ index: -1, replication: nodeStatus.replication }] }],
    ['heartbeat with unreplicated not a boolean', heartbeatSchema, { ...heartbeat, unreplicated: 'yes' }],
    ['heartbeat without qemuOk', heartbeatSchema, { vm: 'vm1', node: 'alpha', role: 'primary', epoch: 2, seq: 1, sentAt: 1 }],
    ['envelope ok:true with an error', replyEnvelopeSchema, { ok: true, error: { code: 'X', message: 'm' } }],
  ] as const)('%s', (_name, schema, value) => {
    expect((schema as z.ZodType<unknown>).safeParse(value).success).toBe(false);
  });
});

describe('decodeWith', () => {
  const subject = subjects.rpc('demo', 'vm1', 'beta', 'readiness');

  function protocolError(fn: () => unknown): ProtocolError {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(ProtocolError);
      return e as ProtocolError;
    }
    throw new Error('expected a ProtocolError');
  }

  it('names the subject and the zod path of a bad field', () => {
    const bad = encodeJson({ disks: [{ index: 0, sizeBytes: 'big' }] });
    const err = protocolError(() => decodeWith(readinessRequestSchema, bad, subject));
    expect(err.subject).toBe(subject);
    expect(err.detail).toContain('disks.0.sizeBytes');
    expect(err.message).toContain(subject);
    expect(err.message).toContain('disks.0.sizeBytes');
    expect(err.recovery).toBe('local');
  });

  it('names an unknown key and reports a root problem as (root)', () => {
    const extra = protocolError(() => decodeWith(heartbeatSchema, encodeJson({ ...heartbeat, ttl: 1 }), 'colo.demo.vm1.hb.alpha'));
    expect(extra.detail).toContain('ttl');
    const root = protocolError(() => decodeWith(heartbeatSchema, encodeJson([1, 2]), 'colo.demo.vm1.hb.alpha'));
    expect(root.detail).toContain('(root)');
  });

  it('refuses a payload that is not JSON, keeping the parse error as cause', () => {
    const err = protocolError(() => decodeWith(heartbeatSchema, new TextEncoder().encode('{"vm":'), subject));
    expect(err.subject).toBe(subject);
    expect(err.message).toContain(subject);
    expect(err.detail).toBe('payload is not JSON');
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it('refuses a payload over its limit before reading it (1 MB of nested objects took 300 ms of the event loop)', () => {
    const deep = (bytes: number) => new TextEncoder().encode(`${'{"a":'.repeat(bytes / 6)}1${'}'.repeat(bytes / 6)}`);
    const started = performance.now();
    const err = protocolError(() => decodeWith(heartbeatSchema, deep(1024 * 1024), subject));
    expect(performance.now() - started).toBeLessThan(20);
    expect(err.detail).toMatch(/payload of \d+ bytes is over the 65536-byte limit/);
    expect(protocolError(() => decodeWith(heartbeatSchema, deep(12 * 1024), subject, MAX_REQUEST_BYTES)).detail).toMatch(/over the 8192-byte limit/);
    // Under the limit the payload is read as usual; a caller that asked may lift the limit (replies to its own requests).
    expect(protocolError(() => decodeWith(heartbeatSchema, deep(12 * 1024), subject)).detail).not.toMatch(/limit/);
    expect(decodeWith(z.object({ a: z.string() }), encodeJson({ a: 'x'.repeat(MAX_MESSAGE_BYTES) }), subject, Infinity).a).toHaveLength(MAX_MESSAGE_BYTES);
  });

  it('returns the parsed data typed by the schema', () => {
    expect(decodeWith(heartbeatSchema, encodeJson(heartbeat), subject)).toEqual(heartbeat);
    expect(new TextDecoder().decode(encodeJson({ a: 1 }))).toBe('{"a":1}');
  });
});

describe('subjects', () => {
  it('builds the documented subjects', () => {
    expect(subjects.rpc('demo', 'vm1', 'alpha', 'readiness')).toBe('colo.demo.vm1.rpc.alpha.readiness');
    expect(subjects.rpc('demo', 'vm1', 'beta', 'status')).toBe('colo.demo.vm1.rpc.beta.status');
    expect(subjects.agentStatus('demo', 'alpha')).toBe('colo.demo.agent.alpha.status');
    expect(subjects.heartbeat('demo', 'vm1', 'alpha')).toBe('colo.demo.vm1.hb.alpha');
    expect(subjects.status('demo', 'vm1', 'beta')).toBe('colo.demo.vm1.status.beta');
    expect(subjects.allStatus('demo')).toBe('colo.demo.*.status.*');
    expect(subjects.events('demo', 'vm1')).toBe('colo.demo.vm1.events');
  });

  it('keeps pairs apart: no subject of one pair matches another pair', () => {
    expect(subjects.status('a', 'vm1', 'n')).not.toBe(subjects.status('b', 'vm1', 'n'));
    expect(subjects.allStatus('a').startsWith('colo.a.')).toBe(true);
  });
});

describe('kv keys', () => {
  it('builds the lease bucket and key', () => {
    expect(kvBuckets.lease('demo')).toBe('colo-ft-demo-lease');
    expect(kvKeys.lease('vm1')).toBe('vm1.lease');
  });
});
