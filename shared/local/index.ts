export { startLocalNats, type LocalNatsServer, type LocalNatsOptions } from './nats-server.js';
export { freePort, freePorts } from './free-port.js';
export { isPidAlive, readPidFile, processCmdline, pidsUnder, signalPid } from './pid.js';
export { isKvmUsable } from './kvm.js';
export { agentNodeOptions } from './agent-node-options.js';
