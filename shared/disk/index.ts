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
export { canaryDiskConfig, canaryFileNames, CANARY_SIZE_BYTES } from './canary.js';
export { planDisk, exportNameOf, isColoDisk, type DiskPlan } from './disk-plan.js';
export { diskDevice, diskDevices, isDiskDevice, type DiskAttachContext, type DiskDevice } from './disk-device.js';
export {
  buildDiskAttachArgs,
  resolveDiskModel,
  DEFAULT_DISK_ATTACHMENT,
  DISK_MODELS,
  SCSI_CONTROLLER_ID,
  type DiskAttachment,
  type DiskModel,
} from './guest-attach.js';
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
