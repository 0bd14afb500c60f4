import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kvBuckets, kvKeys } from '../../../../shared/nats/kv-keys.js';
import { pairPermissions, type PairUser, type Permissions } from '../../../../shared/nats/permissions.js';
import { rpcVerbs, subjects, type RpcVerb } from '../../../../shared/nats/subjects.js';

/**
 * NATS subject matching: `*` is one token, `>` one or more trailing tokens. A
 * subject that is itself a wildcard (a subscription) is covered only by a
 * pattern at least as wide, as nats-server checks subscribe permissions.
 */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (const [i, token] of p.entries()) {
    if (token === '>') return s.length > i;
    if (i >= s.length || s[i] === '>') return false;
    if (token !== '*' && token !== s[i]) return false;
  }
  return p.length === s.length;
}

type Role = PairUser['role'];
type Way = 'publish' | 'subscribe';
interface Flow {
  role: Role;
  way: Way;
  subject: string;
}

const PAIR = 'demo';
const VM = 'vm1';
/** The agent under test is alpha; its peer is beta. */
const ME = 'alpha';
const PEER = 'beta';
const USERS: Record<Role, PairUser> = { agent: { role: 'agent', node: ME }, operator: { role: 'operator' }, dashboard: { role: 'dashboard' } };
const permissionsOf = (role: Role): Permissions => pairPermissions(PAIR, USERS[role]);

const sends = (role: Role, ...list: string[]): Flow[] => list.map((subject) => ({ role, way: 'publish', subject }));
const receives = (role: Role, ...list: string[]): Flow[] => list.map((subject) => ({ role, way: 'subscribe', subject }));

/** Who requests each verb; the agent the subject names serves it. */
const RPC_REQUESTERS: Record<RpcVerb, Role[]> = {
  readiness: ['agent'], // primary/steps.ts: the primary asks its peer
  rejoin: ['agent'], // agent/effects/restore-actors.ts: the survivor asks the old node back
  drill: ['operator'], // cli/drill/run-drill.ts
  command: ['operator'], // cli/drill/run-drill.ts: write and verify the pattern
  restore: ['operator'], // cli/restore/run-restore.ts
  status: [], // declared, served by no agent: see GRANTED
};

const rpcFlows = (verb: RpcVerb): Flow[] => {
  const requesters = RPC_REQUESTERS[verb];
  return [
    ...requesters.flatMap((role) => sends(role, subjects.rpc(PAIR, VM, PEER, verb), ...(role === 'operator' ? [subjects.rpc(PAIR, VM, ME, verb)] : []))),
    // agent/runtime/vm-rpc.ts serves every verb someone requests.
    ...(requesters.length > 0 ? receives('agent', subjects.rpc(PAIR, VM, ME, verb)) : []),
  ];
};

/** What the code sends and subscribes to, builder by builder (the Record makes a new builder fail to compile here until its users are listed). */
const USED_BY_BUILDER: Record<keyof typeof subjects, Flow[]> = {
  rpc: rpcVerbs.flatMap(rpcFlows),
  agentStatus: [...sends('operator', subjects.agentStatus(PAIR, ME), subjects.agentStatus(PAIR, PEER)), ...receives('agent', subjects.agentStatus(PAIR, ME))],
  heartbeat: [...sends('agent', subjects.heartbeat(PAIR, VM, ME)), ...receives('agent', subjects.heartbeat(PAIR, VM, PEER))],
  status: sends('agent', subjects.status(PAIR, VM, ME)),
  events: sends('agent', subjects.events(PAIR, VM)),
  // shared/feed/source.ts: `colo-ft serve` (dashboard) and `colo-ft status --watch` (operator).
  everyStatus: [...receives('dashboard', subjects.everyStatus()), ...receives('operator', subjects.everyStatus())],
  everyEvent: [...receives('dashboard', subjects.everyEvent()), ...receives('operator', subjects.everyEvent())],
  // Not subscribed to by the code, and wildcards only for permissions:
  allStatus: [],
  allEvents: [],
  allOfPair: [],
  everything: [],
};

/** What the nats.js 2.29 KV client publishes for each operation on a bucket. */
const kvClient = {
  open: (b: string) => ['$JS.API.INFO', `$JS.API.STREAM.INFO.KV_${b}`],
  create: (b: string) => [`$JS.API.STREAM.CREATE.KV_${b}`],
  get: (b: string, key: string) => [`$JS.API.DIRECT.GET.KV_${b}.$KV.${b}.${key}`],
  put: (b: string, key: string) => [`$KV.${b}.${key}`],
  keys: (b: string) => [`$JS.API.CONSUMER.CREATE.KV_${b}`, `$JS.FC.KV_${b}.fc.1`],
  // An ordered consumer recreated after a gap or a reconnect uses the old API (no name).
  watch: (b: string) => [`$JS.API.CONSUMER.CREATE.KV_${b}.watcher.$KV.${b}.>`, `$JS.API.CONSUMER.CREATE.KV_${b}`, `$JS.FC.KV_${b}.fc.1`],
};
const LEASE = kvBuckets.lease(PAIR);
const STATUS = kvBuckets.status(PAIR);
const feedSourceKv = [...kvClient.open(STATUS), ...kvClient.keys(STATUS), ...kvClient.get(STATUS, kvKeys.status(VM, PEER)), ...kvClient.open(LEASE), ...kvClient.watch(LEASE)];

const USED: Flow[] = [
  ...Object.values(USED_BY_BUILDER).flat(),
  ...(['agent', 'operator', 'dashboard'] as const).flatMap((role) => receives(role, '_INBOX.Lk2WnHAGbKJ8Ak5GCYpCa1.*')),
  // shared/lease/lease.ts (the first agent up creates the buckets) and agent/runtime/status-publisher.ts
  ...sends(
    'agent',
    ...kvClient.open(LEASE),
    ...kvClient.create(LEASE),
    ...kvClient.get(LEASE, kvKeys.lease(VM)),
    ...kvClient.put(LEASE, kvKeys.lease(VM)),
    ...kvClient.watch(LEASE),
    ...kvClient.open(STATUS),
    ...kvClient.create(STATUS),
    ...kvClient.put(STATUS, kvKeys.status(VM, ME)),
  ),
  ...sends('dashboard', ...feedSourceKv),
  ...sends('operator', ...feedSourceKv),
];

/** Allowed though no code path sends it today: harmless status queries and reads. */
const GRANTED: Flow[] = [
  // RpcVerb 'status' has no server (node status is agentStatus); kept so the generated config is unchanged.
  ...sends('agent', subjects.rpc(PAIR, VM, PEER, 'status')),
  ...sends('dashboard', subjects.rpc(PAIR, VM, PEER, 'status')),
  // An agent may ask its peer, the dashboard any agent (test/integration/nats-auth.test.ts does).
  ...sends('agent', subjects.agentStatus(PAIR, PEER)),
  ...sends('dashboard', subjects.agentStatus(PAIR, ME)),
  // A bucket its user opens is readable whole.
  ...sends('agent', ...kvClient.get(STATUS, kvKeys.status(VM, PEER))),
  ...(['operator', 'dashboard'] as const).flatMap((role) => sends(role, ...kvClient.get(LEASE, kvKeys.lease(VM)), ...kvClient.watch(STATUS))),
];

/** What each role must not be able to do. */
const DENIED: Flow[] = [
  ...sends('agent', subjects.heartbeat(PAIR, VM, PEER), subjects.status(PAIR, VM, PEER)),
  ...sends('agent', ...(['drill', 'command', 'restore'] as const).flatMap((v) => [subjects.rpc(PAIR, VM, PEER, v), subjects.rpc(PAIR, VM, ME, v)])),
  ...sends('agent', `$JS.API.STREAM.DELETE.KV_${LEASE}`),
  ...(['operator', 'dashboard'] as const).flatMap((role) =>
    sends(role, subjects.heartbeat(PAIR, VM, ME), subjects.status(PAIR, VM, ME), subjects.events(PAIR, VM), ...kvClient.create(LEASE), ...kvClient.put(LEASE, kvKeys.lease(VM)), ...kvClient.put(STATUS, kvKeys.status(VM, ME))),
  ),
  ...sends('dashboard', ...(['drill', 'command', 'restore', 'readiness', 'rejoin'] as const).map((v) => subjects.rpc(PAIR, VM, PEER, v))),
  ...receives('dashboard', subjects.allOfPair(PAIR), subjects.heartbeat(PAIR, VM, ME), subjects.rpc(PAIR, VM, ME, 'drill')),
];

const allowed = (f: Flow): boolean => permissionsOf(f.role)[f.way].allow.some((pattern) => covers(pattern, f.subject));
const show = (f: Flow): string => `${f.role} ${f.way} ${f.subject}`;

describe('covers (the NATS wildcard matcher of this test)', () => {
  it('matches `*` to one token and `>` to the rest', () => {
    expect(covers('colo.*.events', 'colo.vm1.events')).toBe(true);
    expect(covers('colo.*.events', 'colo.vm1.x.events')).toBe(false);
    expect(covers('colo.>', 'colo.a.b.c')).toBe(true);
    expect(covers('colo.>', 'colo')).toBe(false);
    expect(covers('colo.a', 'colo.a.b')).toBe(false);
    // A wildcard subscription needs a pattern at least as wide.
    expect(covers('colo.*.*.events', 'colo.*.*.events')).toBe(true);
    expect(covers('colo.demo.*.events', 'colo.*.*.events')).toBe(false);
    expect(covers('colo.*.x', 'colo.>')).toBe(false);
  });
});

describe('pairPermissions', () => {
  it('allows every subject each role uses', () => {
    expect(USED.filter((f) => !allowed(f)).map(show)).toEqual([]);
    expect(GRANTED.filter((f) => !allowed(f)).map(show)).toEqual([]);
  });

  it('has no allow entry that nothing uses or is granted for (a stale subject like the old colo.*.*.resync)', () => {
    const justified = [...USED, ...GRANTED];
    const unused = (['agent', 'operator', 'dashboard'] as const).flatMap((role) =>
      (['publish', 'subscribe'] as const).flatMap((way) =>
        permissionsOf(role)[way].allow
          .filter((pattern) => !justified.some((f) => f.role === role && f.way === way && covers(pattern, f.subject)))
          .map((pattern) => `${role} ${way} ${pattern}`),
      ),
    );
    expect(unused).toEqual([]);
  });

  it('refuses what a role must not do', () => {
    expect(DENIED.filter(allowed).map(show)).toEqual([]);
  });

  it('lists the RPC requesters of every verb, and lets only the agent answer requests', () => {
    expect(Object.keys(RPC_REQUESTERS).sort()).toEqual([...rpcVerbs].sort());
    expect(permissionsOf('agent').allow_responses).toBe(true);
    expect(permissionsOf('operator').allow_responses).toBeUndefined();
    expect(permissionsOf('dashboard').allow_responses).toBeUndefined();
  });

  it('names the node in what an agent may speak for', () => {
    const beta = pairPermissions(PAIR, { role: 'agent', node: PEER }).publish.allow;
    expect(beta.some((p) => covers(p, subjects.heartbeat(PAIR, VM, PEER)))).toBe(true);
    expect(beta.some((p) => covers(p, subjects.heartbeat(PAIR, VM, ME)))).toBe(false);
  });
});

describe('deploy/nats/gen-nats-config.mjs', () => {
  it('spells no subject or bucket of its own: every one comes from pairPermissions (through the shared account renderer)', () => {
    const source = readFileSync(join(process.cwd(), 'deploy/nats/gen-nats-config.mjs'), 'utf8');
    expect(source).toContain("loadDist('shared/nats/account-config.js')");
    expect(source.match(/['"`](colo\.|\$JS|\$KV|_INBOX\.|KV_)|colo-ft-\$\{|\.resync/g)).toBeNull();
  });
});
