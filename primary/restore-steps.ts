import { ColoError } from '../shared/errors.js';
import { awaitColoMode, sleep, type VmPlan } from '../shared/qemu/index.js';
import { queryBlockJobs, queryStatus, runQmpSteps, type QmpCall, type QmpClient } from '../shared/qmp/index.js';
import type { PeerEndpoints, ResyncProgress } from '../state-machines/index.js';
import { addReplicationNodes, linkReplicationNodes, overTls, startMigration } from './steps.js';

export { resyncJobId } from '../shared/disk/index.js';

function resyncJobs(plan: VmPlan): Set<string> {
  return new Set(plan.devices.flatMap((d) => d.primary.resyncJobs()));
}

/** Copy every replicated device onto the new secondary (a disk: drive-mirror onto its NBD export; colo-procedure.md, Restore step 2). */
export async function startMirror(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, speedBytesPerSec: number, call: QmpCall): Promise<void> {
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.startResync(overTls(plan, peer), speedBytesPerSec), call);
}

/** Wait until every mirror job is ready, reporting progress; a job that ends before it is ready failed (NBD error, peer gone). */
export async function awaitMirrorReady(
  qmp: QmpClient,
  plan: VmPlan,
  onProgress: (p: ResyncProgress) => void,
  call: QmpCall & { pollMs?: number },
): Promise<void> {
  const ids = resyncJobs(plan);
  const started = performance.now();
  for (;;) {
    const jobs = (await queryBlockJobs(qmp, call)).filter((j) => ids.has(j.device));
    if (jobs.length < ids.size) throw new ColoError('a resync job ended before it was ready (NBD error or the secondary went away)', 'local');
    const done = jobs.reduce((a, j) => a + j.offset, 0);
    const total = jobs.reduce((a, j) => a + j.len, 0);
    const elapsedS = (performance.now() - started) / 1000;
    const rate = elapsedS > 0 ? done / elapsedS : 0;
    onProgress({ bytesDone: done, bytesTotal: total, rateBytesPerSec: Math.round(rate), etaMs: rate > 0 ? Math.round(((total - done) / rate) * 1000) : null });
    const failed = jobs.find((j) => j.status === 'concluded' || j.status === 'aborting');
    if (failed) throw new ColoError(`resync job ${failed.device} stopped (${failed.status})`, 'local');
    if (jobs.every((j) => j.ready)) return;
    await sleep(call.pollMs ?? 100, call.signal);
  }
}

export async function setMirrorSpeed(qmp: QmpClient, plan: VmPlan, speedBytesPerSec: number, call: QmpCall): Promise<void> {
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.setResyncSpeed(speedBytesPerSec), call);
}

async function awaitJobsGone(qmp: QmpClient, ids: ReadonlySet<string>, call: QmpCall): Promise<void> {
  for (;;) {
    const left = (await queryBlockJobs(qmp, call)).filter((j) => ids.has(j.device));
    if (left.length === 0) return;
    await sleep(1, call.signal);
  }
}

/**
 * Complete the mirror and enter COLO with the guest stopped: stop, complete
 * the mirror without pivoting (cancel of a ready mirror), link the replication
 * child, migrate, and let COLO resume the VM. The guest must not run between
 * the link and COLO's start of block replication: a replication child writes
 * nothing until then (and tells no one), so every guest write in that window
 * would be missing on the secondary. qemu resumes the VM right after it starts
 * replication, so the RESUME that ends this pause is the proof it is on.
 */
export async function switchOver(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: QmpCall & { coloSignal?: AbortSignal }): Promise<{ pauseMs: number }> {
  // Connecting the replication nodes needs no pause: only linking them into the quorum does.
  await addReplicationNodes(qmp, plan, peer, call);
  // The guest's pause as qemu itself saw it: from its STOP event to its RESUME event.
  let stopAt: number | null = null;
  let resumeAt: number | null = null;
  const off = qmp.onEvent((e) => {
    const t = e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
    if (e.event === 'STOP' && stopAt === null) stopAt = t;
    if (e.event === 'RESUME' && stopAt !== null && resumeAt === null) resumeAt = t;
  });
  const t0 = performance.now();
  try {
    await pauseAndLink(qmp, plan, call);
    await startMigration(qmp, plan, peer, call);
    await awaitColoMode(qmp, 'primary', { timeoutMs: call.timeoutMs, signal: call.coloSignal ?? call.signal, pollMs: 2, untilRunning: true });
    const wallMs = performance.now() - t0;
    for (let i = 0; i < 50 && resumeAt === null; i++) await sleep(1);
    return { pauseMs: stopAt !== null && resumeAt !== null ? resumeAt - stopAt : wallMs };
  } finally {
    off();
  }
}

/**
 * Stop the guest, complete any mirror still running (without pivoting) and
 * link the replication children. The guest stays stopped: the migration into
 * COLO that follows resumes it once qemu has started block replication.
 */
export async function pauseAndLink(qmp: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  const ids = resyncJobs(plan);
  await qmp.execute('stop', undefined, call);
  const running = new Set((await queryBlockJobs(qmp, call)).map((j) => j.device));
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.finishResync(running), call);
  await awaitJobsGone(qmp, ids, call);
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.releaseResync(), call);
  await linkReplicationNodes(qmp, plan, call);
}

/** First protection: open the replication nodes, then pause, complete the copy and link (see pauseAndLink). */
export async function attachReplication(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: QmpCall): Promise<void> {
  await addReplicationNodes(qmp, plan, peer, call);
  await pauseAndLink(qmp, plan, call);
}

/** After a failed attempt: no mirror left, no replication link, the VM running. Each step tolerates "already so". */
export async function cleanUpResync(qmp: QmpClient, plan: VmPlan, call: QmpCall, o: { resume: boolean } = { resume: true }): Promise<void> {
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.cleanUp(), call);
  await runQmpSteps(qmp, [{ execute: 'migrate_cancel', ifRefused: 'alreadySo' }], call);
  if (!o.resume) return;
  const st = await queryStatus(qmp, call);
  if (!st.running && (st.status === 'paused' || st.status === 'postmigrate')) await qmp.execute('cont', undefined, call);
}
