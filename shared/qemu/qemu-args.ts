import { ConfigError } from '../errors.js';

export type Accelerator = 'kvm' | 'tcg';

export function resolveAccelerator(requested: 'auto' | 'kvm' | 'tcg', kvmUsable: boolean): Accelerator {
  if (requested === 'auto') return kvmUsable ? 'kvm' : 'tcg';
  if (requested === 'kvm' && !kvmUsable) {
    throw new ConfigError([
      {
        path: 'machine.accelerator',
        message: 'accelerator kvm was requested but /dev/kvm is not usable on this host (missing, or no permission)',
      },
    ]);
  }
  return requested;
}

export const TCG_COLO_LIMITATION =
  "Debian's QEMU 7.2 deadlocks at the first COLO checkpoint under TCG when the VM has vCPUs; " +
  'use accelerator kvm, or machine type none (with vcpus 0)';

/**
 * `auto` picks a real machine under KVM and the vCPU-less `none` under TCG. A
 * TCG VM with vCPUs is refused rather than left to hang at its first checkpoint
 * (colo-procedure.md "Accelerators").
 */
export function resolveMachineType(
  requested: string,
  accel: Accelerator,
  vcpus: number,
): { machineType: string; vcpus: number } {
  if (!Number.isInteger(vcpus) || vcpus < 0) {
    throw new ConfigError([{ path: 'machine.vcpus', message: `vcpus must be an integer >= 0, got ${vcpus}` }]);
  }
  const machineType = requested === 'auto' ? (accel === 'kvm' ? 'pc' : 'none') : requested;

  if (accel === 'tcg') {
    if (machineType !== 'none' || vcpus > 0) {
      const asked = `machine type ${machineType} with ${vcpus} vCPU(s)`;
      throw new ConfigError([{ path: 'machine', message: `${asked} under TCG: ${TCG_COLO_LIMITATION}` }]);
    }
    return { machineType, vcpus: 0 };
  }

  if (machineType === 'none') {
    if (vcpus > 0) {
      throw new ConfigError([{ path: 'machine.vcpus', message: `machine type none has no vCPUs; got vcpus ${vcpus}` }]);
    }
    return { machineType, vcpus: 0 };
  }
  // vcpus 0 means "the minimum": a real machine type needs one.
  return { machineType, vcpus: Math.max(1, vcpus) };
}

export interface QemuArgsInput {
  name: string;
  accel: Accelerator;
  machineType: string;
  vcpus: number;
  memoryMiB: number;
  qmpSocket: string;
  oobQmpSocket: string;
  pidFile: string;
  /** Each guest device's argv piece (GuestDevice.argv), in plan order. */
  deviceArgs: ReadonlyArray<readonly string[]>;
  /** e.g. `tcp:127.0.0.1:9100`; only a COLO secondary waits for an incoming stream. */
  incoming?: string;
}

function escapeOption(value: string): string {
  return value.replaceAll(',', ',,');
}

/** qemu argv without the binary. Pure. */
export function buildQemuArgs(i: QemuArgsInput): string[] {
  return [
    '-name',
    escapeOption(i.name),
    '-machine',
    `${escapeOption(i.machineType)},accel=${i.accel}`,
    ...(i.vcpus > 0 ? ['-smp', String(i.vcpus)] : []),
    '-m',
    String(i.memoryMiB),
    '-nodefaults',
    '-display',
    'none',
    '-qmp',
    `unix:${escapeOption(i.qmpSocket)},server=on,wait=off`,
    // A second monitor on its own chardev: QEMU 7.2 grants it OOB, so `yank` can
    // reach qemu while the main monitor is blocked on a dead NBD peer.
    '-chardev',
    `socket,id=qmp-oob,path=${escapeOption(i.oobQmpSocket)},server=on,wait=off`,
    '-mon',
    'chardev=qmp-oob,mode=control',
    '-pidfile',
    i.pidFile,
    ...i.deviceArgs.flat(),
    ...(i.incoming !== undefined ? ['-incoming', i.incoming] : []),
  ];
}
