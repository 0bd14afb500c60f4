import { existsSync } from 'node:fs';
import { CANARY_SIZE_BYTES, type DiskPlan } from '../../shared/disk/index.js';
import type { QemuImg, VmPlan } from '../../shared/qemu/index.js';

/**
 * The canary's image on this node, created empty when missing. The first
 * protection and every resync copy the primary's onto the secondary like any
 * COLO disk, so an empty one on a fresh node is right.
 */
export async function ensureCanaryImage(plan: VmPlan, img: QemuImg): Promise<void> {
  for (const d of plan.disks) {
    if (d.canary && !existsSync(d.imagePath)) await img.create(d.imagePath, 'raw', CANARY_SIZE_BYTES);
  }
}

/** Which disk a test pattern goes to: 'canary', or a disk index. */
export type PatternDisk = 'canary' | number;

/**
 * The disk a drill's pattern is written to: the canary, or on a VM without
 * one (`-machine none`, nothing attached to a guest) its first COLO disk. A
 * disk a guest device sees is refused: the pattern would overwrite guest data.
 */
export function patternDiskOf(plan: VmPlan, want: PatternDisk, forWrite: boolean): DiskPlan | string {
  const disk =
    want === 'canary'
      ? (plan.disks.find((d) => d.canary) ?? plan.disks.find((d) => d.layout !== 'plain' && d.guestDevice === 'none'))
      : plan.disks.find((d) => d.index === want);
  if (disk === undefined) return want === 'canary' ? `VM ${plan.vm} has no canary disk and no COLO disk outside the guest` : `VM ${plan.vm} has no disk ${want}`;
  if (forWrite && disk.guestDevice !== 'none') {
    return `disk ${disk.index} is attached to the guest (${disk.guestDevice}): a pattern would overwrite guest data; drills write to the canary disk`;
  }
  return disk;
}
