export { primaryDiskSizes, awaitPeerReady, attachReplication, startMigration } from './steps.js';
