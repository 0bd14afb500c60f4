export { startAgent, type Agent, type AgentOptions } from './agent.js';
export { VmController } from './vm-controller.js';
export { coloEventTranslator, type ColoSignal } from './qmp-events.js';
export { sdNotify, watchdogIntervalMs } from './sd-notify.js';
