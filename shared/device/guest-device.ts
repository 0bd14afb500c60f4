import type { DiskConfig } from '../disk/disk-spec.js';
import type { StartKind } from '../disk/drive-layout.js';
import type { AuditInput, DiskAudit } from '../disk/replication-audit.js';
import type { NicConfig } from '../nic/index.js';
import type { QmpStep, YankInstance } from '../qmp/index.js';

/** Every kind of guest device colo-ft drives; a new kind adds its name here and its planner in registry.ts. */
export type DeviceKind = 'disk' | 'nic';

/** The secondary's endpoints as its readiness reply gave them to the primary. */
export interface ReplicationPeer {
  node: string;
  nbd: { host: string; port: number };
  disks: ReadonlyArray<{ index: number; exportName: string }>;
  /** Our TLS client credentials' QOM id for the peer's NBD export (null or absent: plain NBD, `replication.tls: off`). */
  tlsCreds?: string | null;
}

/** What a device kind plans its devices from: the VM's config and how this node starts its qemu. */
export interface DevicePlanInput {
  /** The part of the VM's config the kinds plan from (the config's VmConfig has it). */
  vm: { name: string; disks: readonly DiskConfig[]; nics?: readonly NicConfig[] };
  /** The role this qemu's argv is built for (a survivor keeps the one it started in). */
  role: 'primary' | 'secondary';
  start: StartKind;
  /** False on `-machine none`: no bus to attach a guest device to. */
  machineHasBuses: boolean;
  /** Where this node keeps a file the config names (a relative name is under its imageDir). */
  localPath(file: string): string;
  /** This node's address: where a secondary's proxy chardevs listen (every interface when absent). */
  address?: string;
}

/** The secondary's sequences. Each is empty for a device COLO does not replicate. */
export interface SecondaryDeviceSteps {
  /** Before the primary migrates: offer the device to the primary (a disk: its NBD export). */
  prepare(): QmpStep[];
  /** Primary lost, COLO left: what the device needs to run on alone (a NIC: drop its filters). */
  takeOver(): QmpStep[];
  /** Its verdict in the replication audit, read from qemu's block graph; null when not replicated. */
  audit(input: AuditInput): DiskAudit | null;
}

/** The primary's sequences. Each is empty for a device COLO does not replicate. */
export interface PrimaryDeviceSteps {
  /** Open the link to the secondary's copy, not yet in the data path. */
  attach(peer: ReplicationPeer): QmpStep[];
  /** Put the link in the data path; the guest is stopped (first protection and switch over). */
  link(): QmpStep[];
  /** Secondary lost: what yank may cut out-of-band before the monitor blocks on it. */
  yankInstances(): YankInstance[];
  /** Secondary lost: drop the link, tolerating one that was never made. */
  carryOn(): QmpStep[];
  /** Copy the device onto a fresh secondary. */
  startResync(peer: ReplicationPeer, speedBytesPerSec: number): QmpStep[];
  /** The block jobs startResync starts: followed until ready, then waited for until gone. */
  resyncJobs(): string[];
  setResyncSpeed(speedBytesPerSec: number): QmpStep[];
  /** Switch over: end the device's resync jobs still running, without pivoting. */
  finishResync(running: ReadonlySet<string>): QmpStep[];
  /** Once the resync jobs are gone: close what they wrote to. */
  releaseResync(): QmpStep[];
  /** After a failed attempt: no resync job, no link, tolerating "already so". */
  cleanUp(): QmpStep[];
  /** Its verdict in the replication audit against the current secondary; null when not replicated. */
  audit(input: AuditInput, peer: ReplicationPeer): DiskAudit | null;
}

/**
 * One guest device of a VM plan (disks, NICs), planned for this
 * node's role: its qemu argv and its per-role QMP sequences, all pure data.
 * The role steps run them through runQmpSteps instead of knowing the device.
 */
export interface GuestDevice {
  readonly kind: DeviceKind;
  /** Position among the VM's devices of its kind (the disk or NIC index). */
  readonly index: number;
  /** Whether COLO replicates it; every sequence of a device it does not is empty. */
  readonly replicated: boolean;
  /** This node's qemu argv for the device, in the layout planned for its role. */
  argv(): string[];
  readonly primary: PrimaryDeviceSteps;
  readonly secondary: SecondaryDeviceSteps;
}

/** How one device kind turns a VM's config into its devices. */
export interface DeviceKindPlanner {
  kind: DeviceKind;
  plan(input: DevicePlanInput): GuestDevice[];
}
