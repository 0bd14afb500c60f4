import type { Config } from '../../shared/config/index.js';
import {
  commandReplySchema,
  drillReplySchema,
  subjects,
  type Bus,
  type DrillMode,
  type NodeStatus,
} from '../../shared/nats/index.js';
import { followNodeStatus, type NodeStatusFeed } from '../node-status-feed.js';
import { queryNodeStatus, queryPairStatus } from '../pair-status.js';
import { runRestore, type RestoreReport } from '../restore/run-restore.js';
import { drillVerdict, hasTakenOver, restoredVerdict, servesAsPrimary } from './verdict.js';

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
  /** The disk the pattern was written to and read back from (the canary disk, on a VM that has one). */
  dataDisk: number | null;
  dataDiskIsCanary: boolean;
  epochBefore: number;
  epochAfter: number;
  /** ms since the fault was injected. */
  detectedMs: number | null;
  leaseWonMs: number | null;
  takeoverMs: number | null;
  /** The survivor's own timing of each takeover step after the lease (ms). */
  takeoverStepsMs: Record<string, number> | null;
  totalMs: number | null;
  singleActive: boolean;
  restore?: RestoreReport;
}

const MiB = 1024 * 1024;
/** Where the drill writes its pattern (the failover bench writes the raw floor's there too). */
export const PATTERN_OFFSET = 2 * MiB;
export const PATTERN_LENGTH = MiB;
/** How long the failed side may take, after the takeover, to show it no longer serves. */
const LOSER_STOP_MS = 5_000;

function since(at: number | null, faultAt: number): number | null {
  return at === null ? null : Math.max(0, at - faultAt);
}

/**
 * The survivor's takeover as its status feed shows it, and when it was seen;
 * at the timeout one direct status query, in case the feed missed it (a
 * reconnect), whose answer also says why there was none. `status` is null
 * when the survivor did not answer that query.
 */
async function awaitTakeover(bus: Bus, feed: NodeStatusFeed, o: { pair: string; vm: string; survivor: string; epochBefore: number; timeoutMs: number }) {
  const seen = await feed.until((s) => hasTakenOver(s, o.epochBefore), o.timeoutMs);
  if (seen) return { took: seen, seenAt: Date.now(), status: seen };
  const asked = await queryNodeStatus(bus, o.pair, o.survivor, o.vm);
  return { took: hasTakenOver(asked, o.epochBefore) ? asked : null, seenAt: Date.now(), status: asked };
}

/** The failed side's first status showing it does not serve; when the feed shows none in time, one direct query decides. */
async function awaitLoserStopped(bus: Bus, feed: NodeStatusFeed, o: { pair: string; vm: string; failed: string }): Promise<NodeStatus | null> {
  return (await feed.until((s) => !servesAsPrimary(s), LOSER_STOP_MS)) ?? (await queryNodeStatus(bus, o.pair, o.failed, o.vm));
}

/**
 * Inject a fault on one side through its agent, follow both sides' status
 * feeds while the other side takes over, and check the promise: one active
 * VM, a higher epoch, and a pattern written (and covered by a completed
 * checkpoint) before the fault read back intact on the survivor.
 */
export async function runDrill(bus: Bus, config: Config, o: DrillOptions): Promise<DrillReport> {
  const say = o.progress ?? (() => undefined);
  const pair = config.pair;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const before = (await queryPairStatus(bus, config, 2_000)).vms.find((v) => v.vm === o.vm);
  if (!before) throw new Error(`no VM named ${o.vm}`);
  if (!before.protected) throw new Error(`${o.vm} is not protected (${before.reason}): a drill needs a protected pair`);
  const primary = before.nodes.find((n) => n.role === 'primary')!.node;
  const secondary = before.nodes.find((n) => n.role === 'secondary')!.node;
  const failed = o.fail === 'primary' ? primary : secondary;
  const survivor = o.fail === 'primary' ? secondary : primary;
  const byte = 0x20 + Math.floor(Math.random() * 0xc0);
  const report: DrillReport = {
    vm: o.vm, mode: o.mode, failed, survivor, ok: false, reason: '', dataVerified: false, dataDisk: null, dataDiskIsCanary: false,
    epochBefore: before.epoch, epochAfter: before.epoch, detectedMs: null, leaseWonMs: null, takeoverMs: null, takeoverStepsMs: null, totalMs: null, singleActive: false,
  };
  const evidence = { survivor, failed, epochBefore: before.epoch, timeoutMs };

  // Without periodic checkpoints nothing carries a monitor write to the secondary: the data check cannot be made.
  const dataSkipped = config.vms.find((v) => v.name === o.vm)?.tcgGuestWithoutCheckpoints
    ? 'the VM runs without periodic checkpoints (tcgGuestWithoutCheckpoints), so no checkpoint carries a test pattern to the secondary'
    : undefined;
  if (dataSkipped === undefined) {
    say(`writing pattern 0x${byte.toString(16)} through ${primary} and waiting for a checkpoint to cover it`);
    const written = await bus.request(subjects.rpc(pair, o.vm, primary, 'command'), { op: 'write-pattern', byte, offset: PATTERN_OFFSET, length: PATTERN_LENGTH, awaitCheckpoint: true, disk: 'canary' }, commandReplySchema, { timeoutMs: 15_000 });
    if (!written.ok) throw new Error(`could not write the pattern: ${written.detail}`);
    report.dataDisk = written.disk ?? null;
    report.dataDiskIsCanary = written.canary === true;
  } else say(`not writing a test pattern: ${dataSkipped}`);

  // Before the fault, so every status it causes is on the feeds.
  const survivorFeed = followNodeStatus(bus, pair, o.vm, survivor);
  const loserFeed = followNodeStatus(bus, pair, o.vm, failed);
  try {
    say(`injecting ${o.mode} on ${failed} (${o.fail})`);
    const fault = await bus.request(subjects.rpc(pair, o.vm, failed, 'drill'), { mode: o.mode }, drillReplySchema, { timeoutMs: 5_000 });
    const takeover = await awaitTakeover(bus, survivorFeed, { pair, vm: o.vm, survivor, epochBefore: before.epoch, timeoutMs });
    if (o.mode === 'partition') await bus.request(subjects.rpc(pair, o.vm, failed, 'drill'), { mode: 'heal' }, drillReplySchema, { timeoutMs: 5_000 }).catch(() => undefined);
    const took = takeover.took;
    if (!took) return Object.assign(report, drillVerdict({ ...evidence, takeover: null, survivorStatus: takeover.status, loserStatus: null, data: null, dataSkipped }));
    report.totalMs = takeover.seenAt - fault.faultAt;
    report.epochAfter = took.epoch;
    report.detectedMs = since(took.failover?.detectedAt ?? null, fault.faultAt);
    report.leaseWonMs = since(took.failover?.leaseWonAt ?? null, fault.faultAt);
    report.takeoverMs = since(took.failover?.takeoverAt ?? null, fault.faultAt);
    report.takeoverStepsMs = took.failover?.takeoverSteps ?? null;
    say(`${survivor} runs alone with epoch ${took.epoch}; reading the pattern back`);

    const verified =
      dataSkipped === undefined
        ? await bus.request(subjects.rpc(pair, o.vm, survivor, 'command'), { op: 'verify-pattern', byte, offset: PATTERN_OFFSET, length: PATTERN_LENGTH, disk: report.dataDisk ?? 'canary' }, commandReplySchema, { timeoutMs: 10_000 })
        : null;
    report.dataVerified = verified?.ok === true;
    const loserStatus = await awaitLoserStopped(bus, loserFeed, { pair, vm: o.vm, failed });
    // Confirmed directly: the verdict is about the survivor now, not at its last publication.
    const survivorStatus = await queryNodeStatus(bus, pair, survivor, o.vm);
    return Object.assign(report, drillVerdict({ ...evidence, takeover: took, survivorStatus, loserStatus, data: verified && { verified: verified.ok, detail: verified.detail }, dataSkipped }));
  } finally {
    survivorFeed.stop();
    loserFeed.stop();
  }
}

/** `drill --restore`: the drill, then the restore with its timeline; ok only when protected again with roles swapped. */
export async function runDrillWithRestore(bus: Bus, config: Config, o: DrillOptions): Promise<DrillReport> {
  const report = await runDrill(bus, config, o);
  if (!o.restore || !report.ok) return report;
  o.progress?.(`restoring protection onto ${report.failed}`);
  const restore = await runRestore(bus, config, { vm: o.vm, to: report.failed, timeoutMs: 120_000 });
  report.restore = restore;
  return Object.assign(report, restoredVerdict(report, restore));
}
