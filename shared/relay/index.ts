export { relayPlan, primaryRelayArgs, secondaryRelayArgs, tcpEndpoint, type RelayPlan, type RelaySide, type RelayTls } from './relay-args.js';
export { startRelay, stopRelay, findRelay, awaitSocket, isUnixListening, RELAY_BINARY } from './relay-process.js';
