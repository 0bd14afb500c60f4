export { connectBus, type Bus, type BusOptions, type ConnectionState, type RequestOptions, type Unsubscribe } from './bus.js';
export type { KvChange, KvEntry, KvStore, KvWatch } from './kv.js';
export { subjects, feedSubjects, rpcVerbs, type RpcVerb } from './subjects.js';
export { kvBuckets, kvKeys, kvKeyParts } from './kv-keys.js';
export { encodeJson, decodeWith } from './codec.js';
export { accountName, pairUsers, renderPairAccount, type PairUserEntry } from './account-config.js';
export { pairPermissions, type PairUser, type Permissions } from './permissions.js';
export * from './messages.js';
