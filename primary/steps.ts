import { buildReplicationDriveAdd } from '../shared/disk/index.js';
import { ColoError, DiskError, PeerTimeoutError, PeerUnreachableError, NatsUnavailableError, RemoteError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { readinessReplySchema, subjects, type Bus } from '../shared/nats/index.js';
import { sleep, type QemuImg, type VmPlan } from '../shared/qemu/index.js';
import type { QmpClient } from '../shared/qmp/index.js';
import type { PeerEndpoints } from '../state-machines/index.js';

export interface Call {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Virtual sizes of the primary's COLO disks, sent to the secondary so it can refuse a mismatch. */
export async function primaryDiskSizes(plan: VmPlan, img: QemuImg): Promise<Array<{ index: number; sizeBytes: number }>> {
  const out: Array<{ index: number; sizeBytes: number }> = [];
  for (const d of plan.disks) {
    if (d.layout === 'plain') continue;
    out.push({ index: d.index, sizeBytes: (await img.info(d.imagePath)).virtualSizeBytes });
  }
  return out;
}

const RETRYABLE = [PeerUnreachableError, PeerTimeoutError, NatsUnavailableError];

/**
 * Ask the peer's agent until its secondary is ready. An absent peer is waited
 * for (the primary may start first); a refusal (disk size) ends the wait.
 */
export async function awaitPeerReady(
  bus: Bus,
  o: { pair: string; vm: string; peerNode: string; disks: Array<{ index: number; sizeBytes: number }>; pollMs: number; log: Logger } & Call,
): Promise<PeerEndpoints> {
  const subject = subjects.rpc(o.pair, o.vm, o.peerNode, 'readiness');
  for (;;) {
    try {
      const reply = await bus.request(subject, { disks: o.disks }, readinessReplySchema, { timeoutMs: o.timeoutMs, signal: o.signal });
      if (reply.ready && reply.migrationUri && reply.nbd && reply.disks) {
        for (const mine of o.disks) {
          const theirs = reply.disks.find((d) => d.index === mine.index);
          if (!theirs) throw new DiskError(`secondary ${reply.node} does not export disk ${mine.index}`);
          if (theirs.sizeBytes !== mine.sizeBytes) {
            throw new DiskError(`disk ${mine.index}: the secondary's image is ${theirs.sizeBytes} bytes, the primary's is ${mine.sizeBytes} bytes`);
          }
        }
        return { node: reply.node, migrationUri: reply.migrationUri, nbd: reply.nbd, disks: reply.disks };
      }
      o.log.debug({ peer: o.peerNode, reason: reply.reason }, 'secondary not ready yet');
    } catch (e) {
      if (e instanceof RemoteError && e.code === 'DISK_SIZE_MISMATCH') throw new DiskError(e.message);
      if (!RETRYABLE.some((k) => e instanceof k)) throw e;
    }
    await sleep(o.pollMs, o.signal);
  }
}

/** HMP answers errors as text, not as QMP errors: a non-empty reply means it failed. */
export async function hmpStrict(qmp: QmpClient, line: string, call: Call): Promise<void> {
  const out = (await qmp.hmp(line, call)).trim();
  if (out) throw new ColoError(`HMP '${line.split(' ')[0]}' failed: ${out}`, 'local');
}

/** Open each disk's NBD replication node to the secondary (not yet a quorum child). */
export async function addReplicationNodes(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: Call): Promise<void> {
  for (const d of plan.disks) {
    if (d.layout === 'plain') continue;
    const exported = peer.disks.find((x) => x.index === d.index);
    if (!exported) throw new DiskError(`secondary ${peer.node} does not export disk ${d.index}`);
    await hmpStrict(qmp, buildReplicationDriveAdd({ index: d.index, host: peer.nbd.host, port: peer.nbd.port, exportName: exported.exportName }), call);
  }
}

/** Make each replication node the quorum's second child: from here on writes replicate. */
export async function linkReplicationNodes(qmp: QmpClient, plan: VmPlan, call: Call): Promise<void> {
  for (const d of plan.disks) {
    if (d.layout === 'plain') continue;
    await qmp.execute('x-blockdev-change', { parent: d.ids.top, node: d.ids.replicationNode }, call);
  }
}

export async function startMigration(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: Call): Promise<void> {
  await qmp.execute(
    'migrate-set-capabilities',
    { capabilities: [{ capability: 'x-colo', state: true }, { capability: 'events', state: true }] },
    call,
  );
  await qmp.execute('migrate-set-parameters', { 'x-checkpoint-delay': plan.checkpointDelayMs }, call);
  await qmp.execute('migrate', { uri: peer.migrationUri }, call);
}
