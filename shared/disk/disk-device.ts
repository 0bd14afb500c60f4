import type { DeviceKindPlanner, GuestDevice, ReplicationPeer } from '../device/guest-device.js';
import { isColoDisk, planDisk, type DiskPlan } from './disk-plan.js';
import {
  carryOnSteps,
  cleanUpSteps,
  finishResyncSteps,
  releaseResyncSteps,
  linkReplicationSteps,
  nbdExportSteps,
  openReplicationSteps,
  replicationYankInstances,
  resyncJobsOf,
  setResyncSpeedSteps,
  startResyncSteps,
} from './disk-steps.js';
import { buildDriveArgs } from './drive-layout.js';
import { canaryDiskConfig } from './canary.js';
import { buildDiskAttachArgs, DEFAULT_DISK_ATTACHMENT } from './guest-attach.js';
import { auditPrimaryDisk, auditSecondaryDisk } from './replication-audit.js';

/** A disk as a guest device: its DiskPlan, its -drive argv and its QMP sequences. */
export interface DiskDevice extends GuestDevice {
  readonly kind: 'disk';
  readonly plan: DiskPlan;
}

function nbdTarget(d: DiskPlan, peer: ReplicationPeer): { host: string; port: number; exportName: string } {
  const exportName = peer.disks.find((x) => x.index === d.index)?.exportName ?? '';
  return { host: peer.nbd.host, port: peer.nbd.port, exportName };
}

/** Whether this disk brings the VM's one virtio-scsi controller (the first scsi-hd disk does). */
export interface DiskAttachContext {
  withScsiController: boolean;
}

export function diskDevice(plan: DiskPlan, attach: DiskAttachContext = { withScsiController: false }): DiskDevice {
  const replicated = isColoDisk(plan);
  return {
    kind: 'disk',
    index: plan.index,
    replicated,
    plan,
    argv: () => [
      ...buildDriveArgs({
        index: plan.index,
        layout: plan.layout,
        imagePath: plan.imagePath,
        format: plan.disk.format,
        activePath: plan.activePath,
        hiddenPath: plan.hiddenPath,
        readOnly: plan.disk.access === 'ro',
      }),
      ...buildDiskAttachArgs(plan.index, { ...(plan.disk.device ?? DEFAULT_DISK_ATTACHMENT), model: plan.guestDevice }, { machineHasBuses: true, ...attach }),
    ],
    primary: {
      attach: (peer) => openReplicationSteps(plan, peer),
      link: () => linkReplicationSteps(plan),
      yankInstances: () => replicationYankInstances(plan),
      carryOn: () => carryOnSteps(plan),
      startResync: (peer, speedBytesPerSec) => startResyncSteps(plan, peer, speedBytesPerSec),
      resyncJobs: () => resyncJobsOf(plan),
      setResyncSpeed: (speedBytesPerSec) => setResyncSpeedSteps(plan, speedBytesPerSec),
      finishResync: (running) => finishResyncSteps(plan, running),
      releaseResync: () => releaseResyncSteps(plan),
      cleanUp: () => cleanUpSteps(plan),
      audit: (input, peer) => (replicated ? auditPrimaryDisk(input, { index: plan.index, ids: plan.ids, target: nbdTarget(plan, peer) }) : null),
    },
    secondary: {
      prepare: () => nbdExportSteps(plan),
      // The NBD server the secondary stops on takeover serves every disk: nothing is left per disk.
      takeOver: () => [],
      audit: (input) =>
        replicated ? auditSecondaryDisk(input, { index: plan.index, ids: plan.ids, activePath: plan.activePath ?? '', hiddenPath: plan.hiddenPath ?? '' }) : null,
    },
  };
}

export function isDiskDevice(d: GuestDevice): d is DiskDevice {
  return d.kind === 'disk';
}

/** The disk kind's registration: one device per configured disk, in config order; the first scsi-hd disk brings the controller. */
export const diskDevices: DeviceKindPlanner = {
  kind: 'disk',
  plan: (input) => {
    const canary = canaryDiskConfig(input.vm, input.machineHasBuses);
    const plans = [...input.vm.disks, ...(canary ? [canary] : [])].map((disk, index) =>
      planDisk(disk, index, { ...input, canary: index === input.vm.disks.length }),
    );
    const firstScsi = plans.findIndex((p) => p.guestDevice === 'scsi-hd');
    return plans.map((p) => diskDevice(p, { withScsiController: p.index === firstScsi }));
  },
};
