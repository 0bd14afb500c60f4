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
} from './schema.js';
export { parseConfigText, parseConfigValue, loadConfig, formatConfigPath } from './load.js';
export { FENCE_ACTION_MS, fenceRuleViolation, primaryFenceBoundMs, takeoverVetoMs } from './timing-rules.js';
