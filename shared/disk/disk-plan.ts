import { diskIds, type DiskIds } from './disk-ids.js';
import type { DiskConfig } from './disk-spec.js';
import { coloRestoreEnableFor, driveLayout, type DriveLayout, type StartKind } from './drive-layout.js';

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
}

export function planDisk(
  disk: DiskConfig,
  index: number,
  o: { start: StartKind; localPath(file: string): string },
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
