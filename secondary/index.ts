export { coloDiskSizes, ensureParentImages, prepareOverlays, exportDisks, readinessReply, type PrimaryDisks } from './steps.js';
export { takeOver } from './failover-steps.js';
