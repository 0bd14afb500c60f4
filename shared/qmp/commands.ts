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
): Promise<z.output<S>> {
  const reply = await qmp.execute(command, undefined, options);
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
