export { primaryDiskSizes, awaitPeerReady, addReplicationNodes, linkReplicationNodes, startMigration } from './steps.js';
export { carryOnAlone, ensureRunning, prepareCarryOn } from './failover-steps.js';
export { startMirror, awaitMirrorReady, setMirrorSpeed, switchOver, cleanUpResync, attachReplication, pauseAndLink, resyncJobId } from './restore-steps.js';
