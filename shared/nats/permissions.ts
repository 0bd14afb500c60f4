/**
 * The NATS permissions of every user of one pair, built from the subject and
 * bucket builders so the server config cannot drift from what the code sends.
 * Pure and free of the nats package: deploy/nats/gen-nats-config.mjs imports
 * the compiled module from dist/ on hosts without node_modules.
 */
import { kvBuckets } from './kv-keys.js';
import { subjects, type RpcVerb } from './subjects.js';

export type PairUser = { role: 'agent'; node: string } | { role: 'operator' } | { role: 'dashboard' };

/** The shape nats-server's `permissions` block takes. */
export interface Permissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  allow_responses?: true;
}

/** A NATS wildcard in a builder's argument: any one token. */
const ANY = '*';
/** In the verb token the wildcard stands for every verb, which no RpcVerb spells. */
const ANY_VERB = ANY as RpcVerb;
/** Where nats.js receives the replies to its requests (its default inbox prefix). */
const INBOX = '_INBOX.>';

/**
 * JetStream API subjects, each found necessary against nats-server 2.9 with
 * the nats.js 2.29 KV client (test/integration/nats-auth.test.ts proves every
 * user's flows work and that nothing else is needed):
 * - opening a bucket: $JS.API.INFO (account info) and STREAM.INFO (and
 *   STREAM.CREATE for whoever creates it: the first agent up);
 * - get: DIRECT.GET (buckets are created with allow_direct, so STREAM.MSG.GET
 *   is never used);
 * - put/create/update: a publish on $KV.<bucket>.<key>;
 * - keys(): an ordered consumer on the old API, CONSUMER.CREATE.<stream>;
 * - watch(): CONSUMER.CREATE.<stream>.<name>.<filter>, and flow-control
 *   replies on $JS.FC.<stream>.> under load.
 */
const ACCOUNT_INFO = '$JS.API.INFO';
const stream = (bucket: string) => `KV_${bucket}`;
const kvOpen = (bucket: string) => [`$JS.API.STREAM.INFO.${stream(bucket)}`];
const kvGet = (bucket: string) => [`$JS.API.DIRECT.GET.${stream(bucket)}.>`];
const kvWatch = (bucket: string) => [
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}`,
  `$JS.API.CONSUMER.CREATE.${stream(bucket)}.>`,
  `$JS.FC.${stream(bucket)}.>`,
];
const kvWrite = (bucket: string) => [`$JS.API.STREAM.CREATE.${stream(bucket)}`, `$KV.${bucket}.>`];
/** Read-only use of a bucket: open, get, keys, watch. */
const kvRead = (bucket: string) => [...kvOpen(bucket), ...kvGet(bucket), ...kvWatch(bucket)];

/**
 * Permissions of one user of one pair (each pair is an account of its own,
 * so nothing here can see another pair). Agents publish only their own pair's
 * feed (heartbeats and status only as themselves), request only the harmless
 * verbs (readiness, status, rejoin) of their peer, and answer requests through
 * allow_responses. drill, restore and command can be sent by the operator only.
 */
export function pairPermissions(pair: string, user: PairUser): Permissions {
  const lease = kvBuckets.lease(pair);
  const status = kvBuckets.status(pair);
  if (user.role === 'operator') {
    return {
      publish: { allow: [subjects.rpc(pair, ANY, ANY, ANY_VERB), subjects.agentStatus(pair, ANY), ACCOUNT_INFO, ...kvRead(lease), ...kvRead(status)] },
      subscribe: { allow: [subjects.everything(), INBOX] },
    };
  }
  if (user.role === 'dashboard') {
    return {
      publish: {
        // Status queries only (answered from the agents' memory, no effect);
        // both buckets read and watched, never written.
        allow: [subjects.agentStatus(pair, ANY), subjects.rpc(pair, ANY, ANY, 'status'), ACCOUNT_INFO, ...kvRead(status), ...kvRead(lease)],
      },
      // Every pair's feed: the dashboard follows every pair it can see, which is this one.
      subscribe: { allow: [subjects.everyStatus(), subjects.everyEvent(), INBOX] },
    };
  }
  const { node } = user;
  return {
    publish: {
      allow: [
        subjects.heartbeat(pair, ANY, node),
        subjects.status(pair, ANY, node),
        subjects.events(pair, ANY),
        subjects.rpc(pair, ANY, ANY, 'readiness'),
        subjects.rpc(pair, ANY, ANY, 'status'),
        // After a takeover the survivor asks the old node to come back as secondary.
        subjects.rpc(pair, ANY, ANY, 'rejoin'),
        subjects.agentStatus(pair, ANY),
        ACCOUNT_INFO,
        ...[lease, status].flatMap((b) => [...kvOpen(b), ...kvGet(b), ...kvWrite(b)]),
        // The agent watches its lease key: a peer whose qemu died hands the lease over through it.
        ...kvWatch(lease),
      ],
    },
    subscribe: { allow: [subjects.allOfPair(pair), INBOX] },
    // Replies to the peer's readiness/status requests and the operator's commands.
    allow_responses: true,
  };
}
