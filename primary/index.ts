export { primaryDiskSizes, awaitPeerReady, attachReplication, startMigration } from './steps.js';
export { carryOnAlone, ensureRunning } from './failover-steps.js';
