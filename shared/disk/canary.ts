import type { DiskConfig } from './disk-spec.js';

/**
 * The canary disk: a small COLO disk colo-ft creates and replicates like the
 * VM's own but attaches to no guest device, so drills (and anything else that
 * writes a test pattern) never touch guest data. A VM on `-machine none` has
 * no guest to protect and needs none: its drives are the canary.
 */
export const CANARY_SIZE_BYTES = 32 * 1024 * 1024;

export function canaryFileNames(vm: string): { target: string; activeDisk: string; hiddenDisk: string; exportName: string } {
  return { target: `${vm}-canary.img`, activeDisk: `${vm}-canary-active.qcow2`, hiddenDisk: `${vm}-canary-hidden.qcow2`, exportName: `${vm}-canary` };
}

/** The canary for a VM whose disks a guest sees, exported by the same NBD server as its COLO disks; null without either. */
export function canaryDiskConfig(vm: { name: string; disks: readonly DiskConfig[] }, machineHasBuses: boolean): DiskConfig | null {
  const nbd = vm.disks.find((d) => d.colo && d.coloParams)?.coloParams;
  if (!machineHasBuses || nbd === undefined) return null;
  const names = canaryFileNames(vm.name);
  return {
    target: names.target,
    format: 'raw',
    access: 'rw',
    backendType: 'qdisk',
    colo: true,
    coloParams: { host: nbd.host, port: nbd.port, exportName: names.exportName },
    activeDisk: names.activeDisk,
    hiddenDisk: names.hiddenDisk,
    device: { model: 'none' },
  };
}
