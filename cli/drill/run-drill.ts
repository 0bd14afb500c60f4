import type { Config } from '../../shared/config/index.js';
import {
  commandReplySchema,
  drillReplySchema,
  subjects,
  type Bus,
  type DrillMode,
  type NodeStatus,
} from '../../shared/nats/index.js';
import { queryNodeStatus, queryPairStatus } from '../pair-status.js';
import { runRestore, type RestoreReport } from '../restore/run-restore.js';

export interface DrillOptions {
  vm: string;
  fail: 'primary' | 'secondary';
  mode: DrillMode;
  timeoutMs?: number;
  /** Then restore protection and report it (exit 0 only when protected again). */
  restore?: boolean;
  /** Called with progress lines for a person watching. */
  progress?: (line: string) => void;
}

/** What `colo-ft drill --json` prints; names are a contract. */
export interface DrillReport {
  vm: string;
  mode: DrillMode;
  failed: string;
  survivor: string;
  ok: boolean;
  reason: string;
  dataVerified: boolean;
  epochBefore: number;
  epochAfter: number;
  /** ms since the fault was injected. */
  detectedMs: number | null;
  leaseWonMs: number | null;
  takeoverMs: number | null;
  totalMs: number | null;
  singleActive: boolean;
  restore?: RestoreReport;
}

const MiB = 1024 * 1024;
const PATTERN_OFFSET = 2 * MiB;
const PATTERN_LENGTH = MiB;

function since(at: number | null, faultAt: number): number | null {
  return at === null ? null : Math.max(0, at - faultAt);
}

/**
 * Inject a fault on one side through its agent, wait for the other side to
 * take over, and check the promise: one active VM, a higher epoch, and a
 * pattern written (and covered by a completed checkpoint) before the fault
 * read back intact on the survivor.
 */
export async function runDrill(bus: Bus, config: Config, o: DrillOptions): Promise<DrillReport> {
  const say = o.progress ?? (() => undefined);
  const pair = config.pair;
  const before = (await queryPairStatus(bus, config, 2_000)).vms.find((v) => v.vm === o.vm);
  if (!before) throw new Error(`no VM named ${o.vm}`);
  if (!before.protected) throw new Error(`${o.vm} is not protected (${before.reason}): a drill needs a protected pair`);
  const primary = before.nodes.find((n) => n.role === 'primary')!.node;
  const secondary = before.nodes.find((n) => n.role === 'secondary')!.node;
  const failed = o.fail === 'primary' ? primary : secondary;
  const survivor = o.fail === 'primary' ? secondary : primary;
  const byte = 0x20 + Math.floor(Math.random() * 0xc0);
  const report: DrillReport = {
    vm: o.vm, mode: o.mode, failed, survivor, ok: false, reason: '', dataVerified: false,
    epochBefore: before.epoch, epochAfter: before.epoch, detectedMs: null, leaseWonMs: null, takeoverMs: null, totalMs: null, singleActive: false,
  };

  say(`writing pattern 0x${byte.toString(16)} through ${primary} and waiting for a checkpoint to cover it`);
  const written = await bus.request(subjects.rpc(pair, o.vm, primary, 'command'), { op: 'write-pattern', byte, offset: PATTERN_OFFSET, length: PATTERN_LENGTH, awaitCheckpoint: true }, commandReplySchema, { timeoutMs: 15_000 });
  if (!written.ok) throw new Error(`could not write the pattern: ${written.detail}`);

  say(`injecting ${o.mode} on ${failed} (${o.fail})`);
  const fault = await bus.request(subjects.rpc(pair, o.vm, failed, 'drill'), { mode: o.mode }, drillReplySchema, { timeoutMs: 5_000 });
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  let took: NodeStatus | null = null;
  while (Date.now() < deadline) {
    const s = await queryNodeStatus(bus, pair, survivor, o.vm);
    if (s && s.failover?.phase === 'runningAlone' && s.role === 'primary' && s.epoch > before.epoch) {
      took = s;
      report.totalMs = Date.now() - fault.faultAt;
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (o.mode === 'partition') await bus.request(subjects.rpc(pair, o.vm, failed, 'drill'), { mode: 'heal' }, drillReplySchema, { timeoutMs: 5_000 }).catch(() => undefined);
  if (!took) {
    const s = await queryNodeStatus(bus, pair, survivor, o.vm);
    report.reason = `${survivor} did not take over within ${o.timeoutMs ?? 30_000} ms: ${s?.reason ?? 'no answer'}`;
    return report;
  }
  report.epochAfter = took.epoch;
  report.detectedMs = since(took.failover?.detectedAt ?? null, fault.faultAt);
  report.leaseWonMs = since(took.failover?.leaseWonAt ?? null, fault.faultAt);
  report.takeoverMs = since(took.failover?.takeoverAt ?? null, fault.faultAt);
  say(`${survivor} runs alone with epoch ${took.epoch}; reading the pattern back`);

  const verified = await bus.request(subjects.rpc(pair, o.vm, survivor, 'command'), { op: 'verify-pattern', byte, offset: PATTERN_OFFSET, length: PATTERN_LENGTH }, commandReplySchema, { timeoutMs: 10_000 });
  report.dataVerified = verified.ok;

  // The failed side must not be serving: gone, fenced (paused) or not answering at all.
  let loserActive = true;
  const loserDeadline = Date.now() + 5_000;
  while (Date.now() < loserDeadline) {
    const loser = await queryNodeStatus(bus, pair, failed, o.vm);
    loserActive = loser !== null && loser.role === 'primary' && loser.qemuPid !== null && loser.runState === 'running';
    if (!loserActive) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const survivorLive = await queryNodeStatus(bus, pair, survivor, o.vm);
  // Running alone (COLO mode none), or already protected again by an automatic restore with the survivor as primary.
  const survivorActive = survivorLive?.runState === 'running' && survivorLive.role === 'primary' && survivorLive.coloMode !== 'secondary';
  report.singleActive = survivorActive && !loserActive;
  report.ok = report.singleActive && report.dataVerified && report.epochAfter > report.epochBefore;
  report.reason = report.ok
    ? `${survivor} took over as the single active VM with epoch ${report.epochAfter}; data verified`
    : [
        !report.dataVerified && `pattern not intact on ${survivor}: ${verified.detail}`,
        !survivorActive && `${survivor} is not running alone (run state ${survivorLive?.runState}, COLO ${survivorLive?.coloMode})`,
        loserActive && `${failed} is still running as primary`,
      ].filter(Boolean).join('; ');
  return report;
}

/** `drill --restore`: the drill, then the restore with its timeline; ok only when protected again with roles swapped. */
export async function runDrillWithRestore(bus: Bus, config: Config, o: DrillOptions): Promise<DrillReport> {
  const report = await runDrill(bus, config, o);
  if (!o.restore || !report.ok) return report;
  o.progress?.(`restoring protection onto ${report.failed}`);
  const restore = await runRestore(bus, config, { vm: o.vm, to: report.failed, timeoutMs: 120_000 });
  report.restore = restore;
  report.ok = restore.protected && restore.survivor === report.survivor;
  if (!report.ok) report.reason = `${report.reason}; restore: ${restore.reason}`;
  return report;
}
