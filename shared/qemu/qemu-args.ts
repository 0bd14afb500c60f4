import { TCG_GUEST_MIN_CHECKPOINT_DELAY_MS } from '../config/index.js';
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
  'use accelerator kvm, or machine type none (with vcpus 0), or tcgGuestWithoutCheckpoints with checkpointDelayMs >= ' +
  '3600000 (entering COLO and failing over work; periodic checkpoints do not)';

/** A VM's opt-in to run vCPUs under TCG with periodic checkpoints pushed out (config `tcgGuestWithoutCheckpoints`). */
export interface TcgGuestOptIn {
  tcgGuestWithoutCheckpoints: boolean;
  checkpointDelayMs: number;
}

function tcgGuestAllowed(o: TcgGuestOptIn | undefined): boolean {
  return o !== undefined && o.tcgGuestWithoutCheckpoints && o.checkpointDelayMs >= TCG_GUEST_MIN_CHECKPOINT_DELAY_MS;
}

/**
 * `auto` picks a real machine under KVM and the vCPU-less `none` under TCG. A
 * TCG VM with vCPUs is refused rather than left to hang at its first checkpoint
 * (colo-procedure.md "Accelerators"), unless it opted in to run without
 * periodic checkpoints.
 */
export function resolveMachineType(
  requested: string,
  accel: Accelerator,
  vcpus: number,
  tcgGuest?: TcgGuestOptIn,
): { machineType: string; vcpus: number } {
  if (!Number.isInteger(vcpus) || vcpus < 0) {
    throw new ConfigError([{ path: 'machine.vcpus', message: `vcpus must be an integer >= 0, got ${vcpus}` }]);
  }
  const guestUnderTcg = accel === 'tcg' && tcgGuestAllowed(tcgGuest);
  const machineType = requested === 'auto' ? (accel === 'kvm' || guestUnderTcg ? 'pc' : 'none') : requested;

  if (accel === 'tcg' && !guestUnderTcg) {
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
  /** `-cpu` model; qemu's default when absent. */
  cpu?: string;
  memoryMiB: number;
  qmpSocket: string;
  oobQmpSocket: string;
  pidFile: string;
  /** The data channels' TLS credentials and authz (`-object`s), before the devices. */
  tlsArgs?: readonly string[];
  /** Each guest device's argv piece (GuestDevice.argv), in plan order. */
  deviceArgs: ReadonlyArray<readonly string[]>;
  /** Firmware, kernel, console and VNC (guest-args.ts), after the devices. */
  guestArgs?: readonly string[];
  /** The operator's own arguments (config `extraArgs`, checked against what colo-ft owns), before -incoming. */
  extraArgs?: readonly string[];
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
    ...(i.cpu !== undefined ? ['-cpu', i.cpu] : []),
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
    ...(i.tlsArgs ?? []),
    ...i.deviceArgs.flat(),
    ...(i.guestArgs ?? []),
    ...(i.extraArgs ?? []),
    ...(i.incoming !== undefined ? ['-incoming', i.incoming] : []),
  ];
}
