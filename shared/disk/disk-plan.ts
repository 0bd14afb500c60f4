import { diskIds, type DiskIds } from './disk-ids.js';
import type { DiskConfig } from './disk-spec.js';
import { coloRestoreEnableFor, driveLayout, type DriveLayout, type StartKind } from './drive-layout.js';
import { resolveDiskModel, type DiskModel } from './guest-attach.js';

/** One disk as this node runs it: its ids, its layout for how qemu starts, and its files on this node. */
export interface DiskPlan {
  index: number;
  ids: DiskIds;
  disk: DiskConfig;
  layout: DriveLayout;
  imagePath: string;
  activePath?: string;
  hiddenPath?: string;
  exportName?: string;
  /** The guest device it is attached to on this machine; `none` for a drive no guest sees. */
  guestDevice: Exclude<DiskModel, 'auto'>;
  /** colo-ft's own canary disk (canary.ts), not one of the VM's. */
  canary: boolean;
}

export function planDisk(
  disk: DiskConfig,
  index: number,
  o: { start: StartKind; localPath(file: string): string; machineHasBuses: boolean; canary?: boolean },
): DiskPlan {
  return {
    index,
    ids: diskIds(index),
    disk,
    layout: driveLayout({ coloEnable: disk.colo, coloRestoreEnable: coloRestoreEnableFor(o.start) }),
    imagePath: o.localPath(disk.target),
    activePath: disk.activeDisk ? o.localPath(disk.activeDisk) : undefined,
    hiddenPath: disk.hiddenDisk ? o.localPath(disk.hiddenDisk) : undefined,
    exportName: disk.coloParams?.exportName,
    guestDevice: resolveDiskModel(disk.device?.model ?? 'auto', o.machineHasBuses),
    canary: o.canary === true,
  };
}

/** The name the secondary exports the disk's parent node under. */
export function exportNameOf(d: DiskPlan): string {
  return d.exportName ?? d.ids.parent;
}

/** Whether COLO replicates the disk; a plain disk takes no part in protection. */
export function isColoDisk(d: DiskPlan): boolean {
  return d.layout !== 'plain';
}
