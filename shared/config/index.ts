export {
  configSchema,
  nbdPortOf,
  type Config,
  type ConfigInput,
  type NodeConfig,
  type NodeRole,
  type VmConfig,
  type MachineConfig,
  type TimingsConfig,
  type NatsConfig,
  type ReplicationConfig,
} from './schema.js';
export { parseConfigText, parseConfigValue, loadConfig, formatConfigPath } from './load.js';
export { FENCE_ACTION_MS, fenceRuleViolation, primaryFenceBoundMs, takeoverVetoMs } from './timing-rules.js';
export { TCG_GUEST_MIN_CHECKPOINT_DELAY_MS } from './vm-schema.js';
export { refusedExtraArgs } from './extra-args.js';
