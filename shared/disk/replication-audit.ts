/**
 * Is each COLO disk really replicating? Read from qemu's own block graph, never
 * from what the agent believes it sent (pure: the QMP replies come in as data).
 *
 * - primary: the quorum over the disk has exactly two children, the local one
 *   and a replication node in mode primary whose NBD target is the current
 *   secondary's export;
 * - secondary: the NBD server exports the disk's parent node, writable, and
 *   the quorum's child is the replication node in mode secondary over the
 *   active image, over the hidden image, over that parent.
 */
import type { DiskIds } from './disk-ids.js';

export type ReplicationState = 'replicating' | 'degraded' | 'none';

export interface DiskAudit {
  index: number;
  state: ReplicationState;
  reason: string;
}

export interface ReplicationAudit {
  state: ReplicationState;
  reason: string;
  disks: DiskAudit[];
}

export interface AuditGraph {
  nodes: ReadonlyArray<{ id: number; type: string; name: string }>;
  edges: ReadonlyArray<{ parent: number; child: number; name: string }>;
}
export interface AuditNamedNode {
  nodeName: string;
  drv: string;
  file: string;
  ro: boolean;
}
export interface AuditExport {
  type: string;
  nodeName: string;
}

export interface PrimaryDiskExpectation {
  index: number;
  ids: DiskIds;
  /** The current secondary's NBD endpoint for this disk. */
  target: { host: string; port: number; exportName: string };
}

export interface SecondaryDiskExpectation {
  index: number;
  ids: DiskIds;
  activePath: string;
  hiddenPath: string;
}

export interface AuditInput {
  graph: AuditGraph;
  named: readonly AuditNamedNode[];
  exports: readonly AuditExport[];
}

const FILTER_DRIVERS = new Set(['copy-before-write', 'snapshot-access', 'throttle', 'preallocate']);

class Graph {
  private readonly byId: Map<number, { id: number; type: string; name: string }>;
  private readonly named: Map<string, AuditNamedNode>;

  constructor(private readonly input: AuditInput) {
    this.byId = new Map(input.graph.nodes.map((n) => [n.id, n]));
    this.named = new Map(input.named.map((n) => [n.nodeName, n]));
  }

  /** The node a block backend (a -drive id) sits on. */
  backendRoot(backend: string): number | null {
    const b = this.input.graph.nodes.find((n) => n.type === 'block-backend' && n.name === backend);
    if (!b) return null;
    return this.input.graph.edges.find((e) => e.parent === b.id && e.name === 'root')?.child ?? null;
  }

  children(id: number): Array<{ name: string; id: number }> {
    return this.input.graph.edges.filter((e) => e.parent === id && this.byId.get(e.parent)?.type === 'block-driver').map((e) => ({ name: e.name, id: e.child }));
  }

  child(id: number, edge: string): number | null {
    return this.children(id).find((c) => c.name === edge)?.id ?? null;
  }

  info(id: number): AuditNamedNode | null {
    const n = this.byId.get(id);
    return n ? (this.named.get(n.name) ?? null) : null;
  }

  /** The image file a format node reads: its own filename, or (when qemu describes it as json:) its protocol child's. */
  imagePath(id: number): string | null {
    const own = this.info(id)?.file ?? null;
    if (own !== null && !own.startsWith('json:')) return own;
    const proto = this.child(id, 'file');
    return proto === null ? own : (this.info(proto)?.file ?? own);
  }

  /** Skip filter nodes qemu inserts (the replication's backup job puts a copy-before-write filter over the parent). */
  belowFilters(id: number | null): number | null {
    for (let hops = 0; id !== null && hops < 4; hops++) {
      if (!FILTER_DRIVERS.has(this.info(id)?.drv ?? '')) return id;
      id = this.child(id, 'file');
    }
    return id;
  }

  nameOf(id: number): string {
    return this.byId.get(id)?.name ?? `#${id}`;
  }
}

/** `json:{"driver": "replication", "mode": ..., "file": {...}}` as qemu spells a node it built from options. */
function jsonFilename(file: string): Record<string, unknown> | null {
  if (!file.startsWith('json:')) return null;
  try {
    const v: unknown = JSON.parse(file.slice(5));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function bad(index: number, reason: string): DiskAudit {
  return { index, state: 'degraded', reason: `disk ${index}: ${reason}` };
}

function quorumOf(g: Graph, index: number, top: string): number | DiskAudit {
  const q = g.backendRoot(top);
  if (q === null) return bad(index, `no drive ${top} in qemu`);
  const info = g.info(q);
  if (info?.drv !== 'quorum') return bad(index, `${top} is a ${info?.drv ?? 'unknown'} node, not a quorum`);
  return q;
}

export function auditPrimaryDisk(input: AuditInput, d: PrimaryDiskExpectation): DiskAudit {
  const g = new Graph(input);
  const q = quorumOf(g, d.index, d.ids.top);
  if (typeof q !== 'number') return q;
  const kids = g.children(q).filter((c) => c.name.startsWith('children.'));
  const replicas = kids.filter((c) => g.info(c.id)?.drv === 'replication' && jsonFilename(g.info(c.id)!.file)?.mode === 'primary');
  if (replicas.length === 0) return bad(d.index, `the quorum ${d.ids.top} has no replication child (children: ${kids.map((k) => `${k.name}=${g.nameOf(k.id)}`).join(', ') || 'none'}): writes reach only the local image`);
  if (kids.length !== 2 || replicas.length !== 1) return bad(d.index, `the quorum ${d.ids.top} has ${kids.length} children (${replicas.length} replication), expected the local one and one replication child`);
  const rep = replicas[0]!;
  const opts = jsonFilename(g.info(rep.id)!.file)!;
  const file = (opts.file ?? {}) as Record<string, unknown>;
  const nbd = g.child(rep.id, 'file');
  const nbdInfo = nbd === null ? null : g.info(nbd);
  if (!nbdInfo || nbdInfo.drv !== 'nbd') return bad(d.index, `replication child ${g.nameOf(rep.id)} has no NBD client under it`);
  const host = String(file.host ?? '');
  const port = Number(file.port);
  const exportName = String(file.export ?? '');
  const want = d.target;
  if (host !== want.host || port !== want.port || exportName !== want.exportName) {
    return bad(d.index, `replication child writes to ${host}:${port}/${exportName}, but the secondary exports ${want.host}:${want.port}/${want.exportName}`);
  }
  return { index: d.index, state: 'replicating', reason: `disk ${d.index}: quorum ${d.ids.top} writes the local image and ${host}:${port}/${exportName}` };
}

export function auditSecondaryDisk(input: AuditInput, d: SecondaryDiskExpectation): DiskAudit {
  const g = new Graph(input);
  const q = quorumOf(g, d.index, d.ids.top);
  if (typeof q !== 'number') return q;
  const kids = g.children(q).filter((c) => c.name.startsWith('children.'));
  const rep = kids.length === 1 ? kids[0]! : null;
  const repInfo = rep ? g.info(rep.id) : null;
  if (!rep || repInfo?.drv !== 'replication' || jsonFilename(repInfo.file)?.mode !== 'secondary') {
    return bad(d.index, `the quorum ${d.ids.top} is not over one replication node in mode secondary`);
  }
  const active = g.child(rep.id, 'file');
  const activePath = active === null ? null : g.imagePath(active);
  if (activePath !== d.activePath) return bad(d.index, `replication node's top is ${activePath ?? 'missing'}, not the active image ${d.activePath}`);
  const hidden = g.child(active!, 'backing');
  const hiddenPath = hidden === null ? null : g.imagePath(hidden);
  if (hiddenPath !== d.hiddenPath) return bad(d.index, `active image is backed by ${hiddenPath ?? 'nothing'}, not the hidden image ${d.hiddenPath}`);
  const parentRoot = g.backendRoot(d.ids.parent);
  if (parentRoot === null) return bad(d.index, `no drive ${d.ids.parent} in qemu`);
  const parent = g.belowFilters(parentRoot);
  if (parent === null || g.belowFilters(g.child(hidden!, 'backing')) !== parent) return bad(d.index, `hidden image is not backed by ${d.ids.parent}`);
  const names = new Set([g.nameOf(parentRoot), g.nameOf(parent)]);
  if (!input.exports.some((e) => e.type === 'nbd' && names.has(e.nodeName))) return bad(d.index, `${d.ids.parent} is not exported over NBD (no NBD server, or the export is gone)`);
  if (g.info(parent)?.ro !== false) return bad(d.index, `${d.ids.parent} is read-only: the primary cannot write it`);
  return { index: d.index, state: 'replicating', reason: `disk ${d.index}: ${d.ids.parent} exported writable, replication over active and hidden images` };
}

/** One verdict for the node: replicating only when qemu is in the right COLO mode and every COLO disk replicates. */
export function combineAudit(coloMode: string, expectedMode: 'primary' | 'secondary', disks: DiskAudit[]): ReplicationAudit {
  if (disks.length === 0) return { state: 'none', reason: 'no COLO disk', disks };
  if (coloMode !== expectedMode) {
    return { state: 'degraded', reason: `qemu's COLO mode is ${coloMode}, not ${expectedMode}`, disks: disks.map((d) => ({ ...d, state: 'degraded' as const, reason: `disk ${d.index}: COLO is not running (${coloMode})` })) };
  }
  const first = disks.find((d) => d.state !== 'replicating');
  if (first) return { state: 'degraded', reason: first.reason, disks };
  return { state: 'replicating', reason: `every COLO disk replicates (${disks.length} checked in qemu's block graph)`, disks };
}
