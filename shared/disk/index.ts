export {
  parseDiskSpec,
  parseColoParams,
  checkDiskRules,
  diskKeyName,
  DISK_DEFAULTS,
  DISK_FORMATS,
  DISK_ACCESS_MODES,
  DISK_BACKEND_TYPES,
  type ColoParams,
  type DiskConfig,
  type DiskRuleIssue,
  type DiskSpelling,
} from './disk-spec.js';
export { diskIds, resyncJobId, type DiskIds } from './disk-ids.js';
export { planDisk, exportNameOf, isColoDisk, type DiskPlan } from './disk-plan.js';
export { diskDevice, diskDevices, isDiskDevice, type DiskDevice } from './disk-device.js';
export {
  driveLayout,
  coloRestoreEnableFor,
  buildDriveArgs,
  buildReplicationDriveAdd,
  escapeQemuOptionValue,
  type DriveLayout,
  type StartKind,
  type DriveArgsInput,
  type ReplicationDriveAddInput,
} from './drive-layout.js';
export {
  auditPrimaryDisk,
  auditSecondaryDisk,
  combineAudit,
  type AuditInput,
  type DiskAudit,
  type PrimaryDiskExpectation,
  type ReplicationAudit,
  type ReplicationState,
  type SecondaryDiskExpectation,
} from './replication-audit.js';
