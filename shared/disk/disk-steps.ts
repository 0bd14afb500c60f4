/**
 * A disk's QMP sequences per role, as data (colo-procedure.md: Protect,
 * Failover, Restore). A plain disk is not replicated: every list is empty.
 */
import type { ReplicationPeer } from '../device/guest-device.js';
import { ColoError, DiskError } from '../errors.js';
import type { QmpStep, YankInstance } from '../qmp/index.js';
import { resyncJobId, resyncTargetId } from './disk-ids.js';
import { exportNameOf, isColoDisk, type DiskPlan } from './disk-plan.js';
import { buildReplicationDriveAdd } from './drive-layout.js';

function peerExportName(d: DiskPlan, peer: ReplicationPeer): string | undefined {
  return peer.disks.find((x) => x.index === d.index)?.exportName;
}

function notExported(d: DiskPlan, peer: ReplicationPeer): string {
  return `secondary ${peer.node} does not export disk ${d.index}`;
}

/** Secondary, Protect step 1: export the parent writable, for the primary's replication child. */
export function nbdExportSteps(d: DiskPlan): QmpStep[] {
  // Only the secondary layout has a parent node to export.
  if (d.layout !== 'secondary') return [];
  return [{ execute: 'nbd-server-add', arguments: { device: d.ids.parent, name: exportNameOf(d), writable: true } }];
}

/** Primary, Protect step 2: open the NBD replication node to the secondary's export. */
export function openReplicationSteps(d: DiskPlan, peer: ReplicationPeer): QmpStep[] {
  if (!isColoDisk(d)) return [];
  const exportName = peerExportName(d, peer);
  if (exportName === undefined) throw new DiskError(notExported(d, peer));
  const tls = peer.tlsCreds ? { creds: peer.tlsCreds, hostname: peer.node } : undefined;
  return [{ hmp: buildReplicationDriveAdd({ index: d.index, host: peer.nbd.host, port: peer.nbd.port, exportName, tls }) }];
}

/** Make the replication node the quorum's second child: from here on writes replicate. */
export function linkReplicationSteps(d: DiskPlan): QmpStep[] {
  if (!isColoDisk(d)) return [];
  return [{ execute: 'x-blockdev-change', arguments: { parent: d.ids.top, node: d.ids.replicationNode } }];
}

/** Unlink and delete the replication child; absent when it was never attached or is already gone. */
function dropReplicationSteps(d: DiskPlan): QmpStep[] {
  return [
    { execute: 'x-blockdev-change', arguments: { parent: d.ids.top, child: 'children.1' }, ifRefused: 'alreadySo' },
    { hmp: `drive_del ${d.ids.replicationNode}`, ifRefused: 'alreadySo' },
  ];
}

/** Failover, secondary lost: the NBD client a frozen peer may block on. */
export function replicationYankInstances(d: DiskPlan): YankInstance[] {
  return isColoDisk(d) ? [{ type: 'block-node', 'node-name': d.ids.nbdNode }] : [];
}

/** Failover, secondary lost: the primary drops the replication child. */
export function carryOnSteps(d: DiskPlan): QmpStep[] {
  return isColoDisk(d) ? dropReplicationSteps(d) : [];
}

export function resyncJobsOf(d: DiskPlan): string[] {
  return isColoDisk(d) ? [resyncJobId(d.index)] : [];
}

/**
 * Restore step 2: mirror the disk onto the fresh secondary's export. The
 * target is an NBD node of its own (so it can carry TLS credentials, which an
 * nbd:// URL cannot); one left by an earlier attempt goes first.
 */
export function startResyncSteps(d: DiskPlan, peer: ReplicationPeer, speedBytesPerSec: number): QmpStep[] {
  if (!isColoDisk(d)) return [];
  const exportName = peerExportName(d, peer);
  if (exportName === undefined) throw new ColoError(notExported(d, peer), 'local');
  const target = {
    driver: 'nbd',
    'node-name': resyncTargetId(d.index),
    server: { type: 'inet', host: peer.nbd.host, port: String(peer.nbd.port) },
    export: exportName,
    ...(peer.tlsCreds ? { 'tls-creds': peer.tlsCreds, 'tls-hostname': peer.node } : {}),
  };
  const mirror = {
    device: d.ids.top,
    'job-id': resyncJobId(d.index),
    target: resyncTargetId(d.index),
    sync: 'full',
    ...(speedBytesPerSec > 0 ? { speed: speedBytesPerSec } : {}),
  };
  return [...releaseResyncSteps(d), { execute: 'blockdev-add', arguments: target }, { execute: 'blockdev-mirror', arguments: mirror }];
}

/** Once its mirror job is gone: close the NBD node it wrote to (absent is what this asks for). */
export function releaseResyncSteps(d: DiskPlan): QmpStep[] {
  if (!isColoDisk(d)) return [];
  return [{ execute: 'blockdev-del', arguments: { 'node-name': resyncTargetId(d.index) }, ifRefused: 'alreadySo' }];
}

/** A job that already ended needs no new speed. */
export function setResyncSpeedSteps(d: DiskPlan, speedBytesPerSec: number): QmpStep[] {
  return resyncJobsOf(d).map((job) => ({ execute: 'block-job-set-speed', arguments: { device: job, speed: speedBytesPerSec }, ifRefused: 'alreadySo' }));
}

/** Restore step 3: cancelling a ready mirror completes it without pivoting to the target. */
export function finishResyncSteps(d: DiskPlan, running: ReadonlySet<string>): QmpStep[] {
  return resyncJobsOf(d)
    .filter((job) => running.has(job))
    .map((job) => ({ execute: 'block-job-cancel', arguments: { device: job } }));
}

/** After a failed protect or restore attempt: no mirror, no replication child. */
export function cleanUpSteps(d: DiskPlan): QmpStep[] {
  if (!isColoDisk(d)) return [];
  return [
    { execute: 'block-job-cancel', arguments: { device: resyncJobId(d.index), force: true }, ifRefused: 'alreadySo' },
    ...releaseResyncSteps(d),
    ...dropReplicationSteps(d),
  ];
}
