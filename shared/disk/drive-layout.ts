import { ConfigError } from '../errors.js';
import { diskIds } from './disk-ids.js';

export type DriveLayout = 'plain' | 'primary' | 'secondary';

/** source-notes §2: colo_enable comes from the spec, colo_restore_enable from how the VM was started. */
export function driveLayout(flags: { coloEnable: boolean; coloRestoreEnable: boolean }): DriveLayout {
  if (!flags.coloEnable) return 'plain';
  return flags.coloRestoreEnable ? 'secondary' : 'primary';
}

/**
 * How this qemu was started: cold, as a COLO secondary receiving the primary's
 * checkpoint stream, or any other restore. Only the COLO stream sets the switch.
 */
export type StartKind = 'cold' | 'colo-incoming' | 'other-restore';

export function coloRestoreEnableFor(start: StartKind): boolean {
  return start === 'colo-incoming';
}

/** qemu option values end at a comma; a literal comma is written twice. */
export function escapeQemuOptionValue(value: string): string {
  return value.replaceAll(',', ',,');
}

export interface DriveArgsInput {
  index: number;
  layout: DriveLayout;
  imagePath: string;
  format: 'raw' | 'qcow2';
  activePath?: string;
  hiddenPath?: string;
  readOnly?: boolean;
}

function drive(options: string[]): string[] {
  return ['-drive', options.join(',')];
}

/** The exact `-drive` argv fragment for one disk in the given layout. */
export function buildDriveArgs(input: DriveArgsInput): string[] {
  const ids = diskIds(input.index);
  const image = escapeQemuOptionValue(input.imagePath);
  const readOnly = input.readOnly === true;

  if (input.layout === 'plain') {
    return drive([
      'if=none',
      `id=${ids.top}`,
      `driver=${input.format}`,
      'file.driver=file',
      `file.filename=${image}`,
      ...(readOnly ? ['read-only=on'] : []),
    ]);
  }

  if (readOnly) {
    // Both COLO sides write: the secondary into its active disk, the primary into the quorum.
    throw new ConfigError([{ path: 'access', message: `disk ${input.index}: a COLO disk cannot be read-only` }]);
  }

  if (input.layout === 'primary') {
    return drive([
      'if=none',
      `id=${ids.top}`,
      'driver=quorum',
      'read-pattern=fifo',
      'vote-threshold=1',
      `children.0.file.filename=${image}`,
      `children.0.driver=${input.format}`,
    ]);
  }

  const missing: { path: string; message: string }[] = [];
  if (input.activePath === undefined) {
    missing.push({ path: 'active-disk', message: `disk ${input.index}: needs active-disk=... for colo` });
  }
  if (input.hiddenPath === undefined) {
    missing.push({ path: 'hidden-disk', message: `disk ${input.index}: needs hidden-disk=... for colo` });
  }
  if (input.activePath === undefined || input.hiddenPath === undefined) throw new ConfigError(missing);

  return [
    ...drive(['if=none', `id=${ids.parent}`, `file.filename=${image}`, `driver=${input.format}`]),
    ...drive([
      'if=none',
      `id=${ids.child}`,
      'driver=replication',
      'mode=secondary',
      'file.driver=qcow2',
      `top-id=${ids.top}`,
      `file.file.filename=${escapeQemuOptionValue(input.activePath)}`,
      'file.backing.driver=qcow2',
      `file.backing.file.filename=${escapeQemuOptionValue(input.hiddenPath)}`,
      `file.backing.backing=${ids.parent}`,
    ]),
    ...drive([
      'if=none',
      `id=${ids.top}`,
      'driver=quorum',
      'read-pattern=fifo',
      'vote-threshold=1',
      `children.0=${ids.child}`,
    ]),
  ];
}

export interface ReplicationDriveAddInput {
  index: number;
  host: string;
  port: number;
  exportName: string;
  /** TLS client credentials' QOM id and the name the secondary's certificate must carry. */
  tls?: { creds: string; hostname: string };
}

/**
 * The primary's HMP command adding the NBD replication child (colo-procedure.md
 * Protect step 2); `-n` because the node is attached by x-blockdev-change, not to a device.
 */
export function buildReplicationDriveAdd(input: ReplicationDriveAddInput): string {
  const ids = diskIds(input.index);
  const options = [
    'driver=replication',
    'mode=primary',
    'file.driver=nbd',
    `file.host=${escapeQemuOptionValue(input.host)}`,
    `file.port=${input.port}`,
    `file.export=${escapeQemuOptionValue(input.exportName)}`,
    ...(input.tls ? [`file.tls-creds=${escapeQemuOptionValue(input.tls.creds)}`, `file.tls-hostname=${escapeQemuOptionValue(input.tls.hostname)}`] : []),
    `file.node-name=${ids.nbdNode}`,
    `node-name=${ids.replicationNode}`,
  ];
  return `drive_add -n buddy ${options.join(',')}`;
}
