export { connectQmp } from './qmp-client.js';
export type { CallOptions, QmpClient, QmpConnectOptions, QmpEvent } from './qmp-client.js';
export {
  queryBlockExports,
  queryBlockGraph,
  queryBlockJobs,
  queryNamedBlockNodes,
  queryColoStatus,
  queryCommandNames,
  queryMigrate,
  queryStatus,
  queryVersion,
} from './commands.js';
export type {
  BlockExport,
  BlockGraph,
  BlockJob,
  NamedBlockNode,
  ColoMode,
  ColoStatus,
  MigrateStatus,
  QemuVersion,
  RunState,
  VmStatus,
} from './commands.js';
