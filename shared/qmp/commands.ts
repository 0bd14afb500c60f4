import { z } from 'zod';
import { QmpProtocolError } from '../errors.js';
import type { CallOptions, QmpClient } from './qmp-client.js';

/** qemu RunState, e.g. 'running', 'paused', 'colo', 'inmigrate', 'postmigrate', 'shutdown'. */
export type RunState = string;
export type ColoMode = 'primary' | 'secondary' | 'none';

export interface VmStatus {
  running: boolean;
  status: RunState;
}
export interface ColoStatus {
  mode: ColoMode;
  lastMode?: string;
  reason: string;
}
export interface MigrateStatus {
  status?: string;
  errorDesc?: string;
}
export interface BlockJob {
  device: string;
  type: string;
  len: number;
  offset: number;
  ready: boolean;
  status?: string;
  speed: number;
}
export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
  package: string;
}

// Only the fields we use; z.object() drops the rest, so newer qemu adding fields is fine.
const StatusInfo = z.object({ running: z.boolean(), status: z.string() });
const ColoStatusInfo = z.object({
  mode: z.enum(['primary', 'secondary', 'none']),
  'last-mode': z.string().optional(),
  reason: z.string(),
});
const MigrationInfo = z.object({ status: z.string().optional(), 'error-desc': z.string().optional() });
const BlockJobInfoList = z.array(
  z.object({
    device: z.string(),
    type: z.string(),
    len: z.number(),
    offset: z.number(),
    ready: z.boolean(),
    status: z.string().optional(),
    speed: z.number(),
  }),
);
const CommandInfoList = z.array(z.object({ name: z.string() }));
const VersionInfo = z.object({
  qemu: z.object({ major: z.number().int(), minor: z.number().int(), micro: z.number().int() }),
  package: z.string(),
});

function formatPath(path: readonly PropertyKey[]): string {
  const text = path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`)).join('');
  return text.replace(/^\./, '') || '(root)';
}

async function query<S extends z.ZodType>(
  qmp: QmpClient,
  command: string,
  schema: S,
  options?: CallOptions,
  args?: Record<string, unknown>,
): Promise<z.output<S>> {
  const reply = await qmp.execute(command, args, options);
  const parsed = schema.safeParse(reply);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
  throw new QmpProtocolError(`QMP ${command} reply: ${issues}`, { cause: parsed.error });
}

export async function queryStatus(qmp: QmpClient, o?: CallOptions): Promise<VmStatus> {
  const { running, status } = await query(qmp, 'query-status', StatusInfo, o);
  return { running, status };
}

export async function queryColoStatus(qmp: QmpClient, o?: CallOptions): Promise<ColoStatus> {
  const r = await query(qmp, 'query-colo-status', ColoStatusInfo, o);
  return r['last-mode'] === undefined
    ? { mode: r.mode, reason: r.reason }
    : { mode: r.mode, lastMode: r['last-mode'], reason: r.reason };
}

export async function queryMigrate(qmp: QmpClient, o?: CallOptions): Promise<MigrateStatus> {
  const r = await query(qmp, 'query-migrate', MigrationInfo, o);
  const out: MigrateStatus = {};
  if (r.status !== undefined) out.status = r.status;
  if (r['error-desc'] !== undefined) out.errorDesc = r['error-desc'];
  return out;
}

export async function queryBlockJobs(qmp: QmpClient, o?: CallOptions): Promise<BlockJob[]> {
  const jobs = await query(qmp, 'query-block-jobs', BlockJobInfoList, o);
  return jobs.map(({ status, ...job }) => (status === undefined ? job : { ...job, status }));
}

export async function queryCommandNames(qmp: QmpClient, o?: CallOptions): Promise<string[]> {
  const commands = await query(qmp, 'query-commands', CommandInfoList, o);
  return commands.map((c) => c.name);
}

export async function queryVersion(qmp: QmpClient, o?: CallOptions): Promise<QemuVersion> {
  const r = await query(qmp, 'query-version', VersionInfo, o);
  return { major: r.qemu.major, minor: r.qemu.minor, micro: r.qemu.micro, package: r.package };
}

export interface BlockGraph {
  nodes: Array<{ id: number; type: string; name: string }>;
  edges: Array<{ parent: number; child: number; name: string }>;
}
export interface NamedBlockNode {
  nodeName: string;
  drv: string;
  /** qemu's filename for the node: a path, an nbd:// URL or a `json:{...}` description. */
  file: string;
  ro: boolean;
}
export interface BlockExport {
  id: string;
  type: string;
  nodeName: string;
}

const BlockGraphInfo = z.object({
  nodes: z.array(z.object({ id: z.number().int(), type: z.string(), name: z.string() })),
  edges: z.array(z.object({ parent: z.number().int(), child: z.number().int(), name: z.string() })),
});
const NamedBlockNodes = z.array(z.object({ 'node-name': z.string(), drv: z.string(), file: z.string(), ro: z.boolean() }));
const BlockExports = z.array(z.object({ id: z.string(), type: z.string(), 'node-name': z.string() }));

/** The block graph as qemu has it now (backends, nodes and the named edges between them). */
export async function queryBlockGraph(qmp: QmpClient, o?: CallOptions): Promise<BlockGraph> {
  return query(qmp, 'x-debug-query-block-graph', BlockGraphInfo, o);
}

export async function queryNamedBlockNodes(qmp: QmpClient, o?: CallOptions): Promise<NamedBlockNode[]> {
  const reply = await qmp.execute('query-named-block-nodes', { flat: true }, o);
  const parsed = NamedBlockNodes.safeParse(reply);
  if (!parsed.success) throw new QmpProtocolError(`QMP query-named-block-nodes reply: ${parsed.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ')}`, { cause: parsed.error });
  return parsed.data.map((n) => ({ nodeName: n['node-name'], drv: n.drv, file: n.file, ro: n.ro }));
}

export async function queryBlockExports(qmp: QmpClient, o?: CallOptions): Promise<BlockExport[]> {
  return (await query(qmp, 'query-block-exports', BlockExports, o)).map((e) => ({ id: e.id, type: e.type, nodeName: e['node-name'] }));
}

const ObjectPropertyInfoList = z.array(z.object({ name: z.string(), type: z.string() }));
const IOThreadInfoList = z.array(z.object({ id: z.string(), 'thread-id': z.number().int() }));

/** The ids of the user-created objects (filters, colo-compare, iothreads, tls creds): `qom-list /objects`. */
export async function queryObjectIds(qmp: QmpClient, o?: CallOptions): Promise<string[]> {
  const r = await query(qmp, 'qom-list', ObjectPropertyInfoList, o, { path: '/objects' });
  return r.filter((p) => p.type.startsWith('child<')).map((p) => p.name);
}

/** Each iothread's id and the host thread id it runs on. */
export async function queryIothreads(qmp: QmpClient, o?: CallOptions): Promise<Array<{ id: string; threadId: number }>> {
  const r = await query(qmp, 'query-iothreads', IOThreadInfoList, o);
  return r.map((t) => ({ id: t.id, threadId: t['thread-id'] }));
}
