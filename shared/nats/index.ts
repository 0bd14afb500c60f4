export { connectBus, type Bus, type BusOptions, type ConnectionState, type RequestOptions, type Unsubscribe } from './bus.js';
export type { KvEntry, KvStore } from './kv.js';
export { subjects, type RpcVerb } from './subjects.js';
export { kvBuckets, kvKeys } from './kv-keys.js';
export { encodeJson, decodeWith } from './codec.js';
export * from './messages.js';
