export { primaryDiskSizes, awaitPeerReady, attachReplication, addReplicationNodes, linkReplicationNodes, startMigration } from './steps.js';
export { carryOnAlone, ensureRunning } from './failover-steps.js';
export { startMirror, awaitMirrorReady, setMirrorSpeed, switchOver, cleanUpResync, resyncJobId } from './restore-steps.js';
