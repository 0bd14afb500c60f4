export { coloDiskSizes, ensureParentImages, prepareOverlays, exportDisks, OVERLAY_OPTIONS, readinessReply, type PrimaryDisks } from './steps.js';
export { prepareTakeover, takeOver } from './failover-steps.js';
