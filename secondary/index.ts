export { coloDiskSizes, prepareOverlays, exportDisks, readinessReply, type PrimaryDisks } from './steps.js';
