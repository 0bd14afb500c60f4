import type { Config } from '../../shared/config/index.js';
import { acceptedReplySchema, subjects, type Bus, type NodeStatus } from '../../shared/nats/index.js';
import { queryNodeStatus, queryPairStatus } from '../pair-status.js';
import { sleep } from '../../shared/sleep.js';

export interface RestoreOptions {
  vm: string;
  to?: string;
  bandwidthBytesPerSec?: number;
  timeoutMs?: number;
  onProgress?: (s: NodeStatus) => void;
}

/** What `restore --json` prints, and the `restore` object of `drill --restore --json`. */
export interface RestoreReport {
  vm: string;
  survivor: string | null;
  target: string | null;
  protected: boolean;
  /** False when there was nothing to restore (already protected) or it did not get there. */
  restored: boolean;
  /** What the survivor said of the request (e.g. a bandwidth limit applied to the running resync); null when none was sent. */
  request: { accepted: boolean; reason: string } | null;
  epoch: number;
  resyncMs: number | null;
  pauseMs: number | null;
  totalMs: number | null;
  attempts: number;
  reason: string;
}

/**
 * Ask the node running the VM alone to restore protection (it may already be
 * doing so on its own), then follow its progress until the pair is protected.
 */
export async function runRestore(bus: Bus, config: Config, o: RestoreOptions): Promise<RestoreReport> {
  const pair = config.pair;
  const report: RestoreReport = { vm: o.vm, survivor: null, target: null, protected: false, restored: false, request: null, epoch: 0, resyncMs: null, pauseMs: null, totalMs: null, attempts: 0, reason: '' };
  const statuses = await Promise.all(config.nodes.map((n) => queryNodeStatus(bus, pair, n.name, o.vm)));
  const survivor = statuses.find((s) => s?.role === 'primary' && (s.failover?.phase === 'runningAlone' || s.resync !== null)) ?? statuses.find((s) => s?.role === 'primary');
  if (!survivor) {
    report.reason = 'no node runs this VM as primary: nothing to restore from';
    return report;
  }
  report.survivor = survivor.node;
  report.target = o.to ?? config.nodes.find((n) => n.name !== survivor.node)!.name;
  const before = (await queryPairStatus(bus, config, 1_000)).vms.find((v) => v.vm === o.vm);
  const resyncRunning = survivor.resync !== null && survivor.resync.doneAt === null;
  if (before?.protected && !resyncRunning) {
    report.protected = true;
    report.epoch = before.epoch;
    report.target = before.nodes.find((n) => n.role === 'secondary')?.node ?? report.target;
    report.reason = `already protected, nothing to restore${o.bandwidthBytesPerSec === undefined ? '' : ' (the bandwidth limit was not sent)'}`;
    return report;
  }
  const reply = await bus.request(subjects.rpc(pair, o.vm, survivor.node, 'restore'), { ...(o.to ? { to: o.to } : {}), ...(o.bandwidthBytesPerSec !== undefined ? { bandwidthBytesPerSec: o.bandwidthBytesPerSec } : {}) }, acceptedReplySchema, { timeoutMs: 5_000 });
  report.request = { accepted: reply.accepted, reason: reply.reason };
  const deadline = Date.now() + (o.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const s = await queryNodeStatus(bus, pair, survivor.node, o.vm);
    if (s) {
      o.onProgress?.(s);
      const vm = (await queryPairStatus(bus, config, 1_000)).vms.find((v) => v.vm === o.vm);
      const restoreFinished = s.resync === null || s.resync.doneAt !== null;
      if (vm?.protected && restoreFinished && vm.nodes.find((n) => n.node === survivor.node)?.role === 'primary') {
        const r = s.resync;
        report.protected = true;
        report.restored = true;
        report.epoch = vm.epoch;
        report.attempts = r?.attempts ?? 0;
        report.resyncMs = r?.resyncReadyAt && r.resyncStartedAt ? r.resyncReadyAt - r.resyncStartedAt : null;
        report.pauseMs = r?.pauseMs ?? null;
        report.totalMs = r?.doneAt && r.startedAt ? r.doneAt - r.startedAt : null;
        report.reason = `protected again: ${survivor.node} primary, ${report.target} secondary`;
        return report;
      }
    }
    await sleep(100);
  }
  const last = await queryNodeStatus(bus, pair, survivor.node, o.vm);
  report.reason = `not protected within ${o.timeoutMs ?? 120_000} ms: ${last?.reason ?? 'no answer'}${reply.accepted ? '' : ` (${reply.reason})`}`;
  return report;
}
