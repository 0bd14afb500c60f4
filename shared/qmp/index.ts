export { connectQmp } from './qmp-client.js';
export { qmpCallWithin } from './call.js';
export type { CallOptions, QmpCall, QmpClient, QmpConnectOptions, QmpEvent } from './qmp-client.js';
export { yankStep, yankSteps, type HmpStep, type QmpCommandStep, type QmpStep, type RefusalMeaning, type YankInstance } from './qmp-step.js';
export { hmpStrict, isQemuRefusal, runQmpSteps } from './run-steps.js';
export { loseHeartbeat, type ColoLeft } from './lose-heartbeat.js';
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
  queryObjectIds,
  queryIothreads,
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
