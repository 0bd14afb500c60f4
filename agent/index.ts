export { startAgent, type Agent, type AgentOptions } from './runtime/agent.js';
export { VmController } from './runtime/vm-controller.js';
export { coloEventTranslator, type ColoSignal } from './signals/qmp-events.js';
export { sdNotify, watchdogIntervalMs } from './runtime/sd-notify.js';
