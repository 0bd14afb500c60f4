export { connectQmp } from './qmp-client.js';
export type { CallOptions, QmpClient, QmpConnectOptions, QmpEvent } from './qmp-client.js';
export {
  queryBlockJobs,
  queryColoStatus,
  queryCommandNames,
  queryMigrate,
  queryStatus,
  queryVersion,
} from './commands.js';
export type {
  BlockJob,
  ColoMode,
  ColoStatus,
  MigrateStatus,
  QemuVersion,
  RunState,
  VmStatus,
} from './commands.js';
