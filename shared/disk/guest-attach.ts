import { diskIds } from './disk-ids.js';
import { escapeQemuOptionValue } from './drive-layout.js';

/**
 * The guest device a disk is attached to. `auto` is virtio-blk-pci on a real
 * machine and nothing on `-machine none` (it has no bus); `none` attaches the
 * drive to no guest device (the canary disk, or a drive the tests drive by
 * qemu-io only).
 */
export const DISK_MODELS = ['auto', 'virtio-blk-pci', 'ide-hd', 'scsi-hd', 'none'] as const;
export type DiskModel = (typeof DISK_MODELS)[number];

export interface DiskAttachment {
  model: DiskModel;
  bootindex?: number;
  serial?: string;
}

export const DEFAULT_DISK_ATTACHMENT: DiskAttachment = { model: 'auto' };

/** The one virtio-scsi controller every scsi-hd disk of a VM sits on. */
export const SCSI_CONTROLLER_ID = 'colo-scsi0';

export function resolveDiskModel(model: DiskModel, machineHasBuses: boolean): Exclude<DiskModel, 'auto'> {
  if (model !== 'auto') return model;
  return machineHasBuses ? 'virtio-blk-pci' : 'none';
}

/**
 * `-device` for the guest side of disk `index`, driven by its top node (the
 * quorum on either COLO side, the plain drive otherwise), so the guest sees
 * the same device on both nodes and after every role swap. Pure.
 */
export function buildDiskAttachArgs(
  index: number,
  attachment: DiskAttachment,
  o: { machineHasBuses: boolean; withScsiController: boolean },
): string[] {
  const model = resolveDiskModel(attachment.model, o.machineHasBuses);
  if (model === 'none') return [];
  const options = [model, `drive=${diskIds(index).top}`, `id=colo-vd${index}`];
  if (model === 'scsi-hd') options.push(`bus=${SCSI_CONTROLLER_ID}.0`);
  if (attachment.bootindex !== undefined) options.push(`bootindex=${attachment.bootindex}`);
  if (attachment.serial !== undefined) options.push(`serial=${escapeQemuOptionValue(attachment.serial)}`);
  const controller = model === 'scsi-hd' && o.withScsiController ? ['-device', `virtio-scsi-pci,id=${SCSI_CONTROLLER_ID}`] : [];
  return [...controller, '-device', options.join(',')];
}
