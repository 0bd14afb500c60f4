import { TLS_IDS } from '../shared/tls/index.js';
import { awaitSocket, primaryRelayArgs, startRelay, tcpEndpoint } from '../shared/relay/index.js';
import { isColoDisk } from '../shared/disk/index.js';
import { ConfigError, DiskError, PeerTimeoutError, PeerUnreachableError, NatsUnavailableError, RemoteError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { readinessReplySchema, subjects, type Bus } from '../shared/nats/index.js';
import { sleep, type QemuImg, type VmPlan } from '../shared/qemu/index.js';
import { runQmpSteps, type QmpCall, type QmpClient } from '../shared/qmp/index.js';
import type { PeerEndpoints } from '../state-machines/index.js';

/** The old name of QmpCall. */
export type Call = QmpCall;

/** Virtual sizes of the primary's COLO disks, sent to the secondary so it can refuse a mismatch. */
export async function primaryDiskSizes(plan: VmPlan, img: QemuImg): Promise<Array<{ index: number; sizeBytes: number }>> {
  const out: Array<{ index: number; sizeBytes: number }> = [];
  for (const d of plan.disks.filter(isColoDisk)) {
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
  o: { pair: string; vm: string; peerNode: string; disks: Array<{ index: number; sizeBytes: number }>; accel: 'kvm' | 'tcg'; pollMs: number; log: Logger } & QmpCall,
): Promise<PeerEndpoints> {
  const subject = subjects.rpc(o.pair, o.vm, o.peerNode, 'readiness');
  for (;;) {
    try {
      const reply = await bus.request(subject, { disks: o.disks, accel: o.accel }, readinessReplySchema, { timeoutMs: o.timeoutMs, signal: o.signal });
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
      if (e instanceof RemoteError && e.code === 'MACHINE_MISMATCH') throw new ConfigError([{ path: 'machine.accelerator', message: e.message }]);
      if (!RETRYABLE.some((k) => e instanceof k)) throw e;
    }
    await sleep(o.pollMs, o.signal);
  }
}

/** The peer's endpoints as our NBD clients reach them: with our TLS client credentials when TLS is on. */
export function overTls(plan: VmPlan, peer: PeerEndpoints): PeerEndpoints & { tlsCreds: string | null } {
  return { ...peer, tlsCreds: plan.tls ? TLS_IDS.client : null };
}

/** Open each device's replication link to the secondary (a disk: its NBD replication node, not yet a quorum child). */
export async function addReplicationNodes(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: QmpCall): Promise<void> {
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.attach(overTls(plan, peer)), call);
}

/** Put each device's link in the data path: from here on writes replicate. */
export async function linkReplicationNodes(qmp: QmpClient, plan: VmPlan, call: QmpCall): Promise<void> {
  for (const device of plan.devices) await runQmpSteps(qmp, device.primary.link(), call);
}

export async function startMigration(qmp: QmpClient, plan: VmPlan, peer: PeerEndpoints, call: QmpCall): Promise<void> {
  await qmp.execute(
    'migrate-set-capabilities',
    { capabilities: [{ capability: 'x-colo', state: true }, { capability: 'events', state: true }] },
    call,
  );
  await qmp.execute('migrate-set-parameters', { 'x-checkpoint-delay': plan.checkpointDelayMs }, call);
  await qmp.execute('migrate', { uri: await migrationTarget(plan, peer, call) }, call);
}

/** Where qemu sends the COLO stream: straight to the peer, or to this side's relay, started for this session. */
async function migrationTarget(plan: VmPlan, peer: PeerEndpoints, call: QmpCall): Promise<string> {
  if (!plan.relay) return peer.migrationUri;
  const { outgoingSocket } = plan.relay;
  const pid = startRelay({ runDir: plan.runDir, side: 'primary', socket: outgoingSocket, args: primaryRelayArgs(plan.relay, tcpEndpoint(peer.migrationUri)), binary: plan.relay.binary });
  await awaitSocket(outgoingSocket, call.timeoutMs, call.signal, pid);
  return `unix:${outgoingSocket}`;
}
