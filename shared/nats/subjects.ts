/**
 * Every NATS subject the project uses is built here and nowhere else.
 * Pair and VM names are validated by the config schema ([a-z0-9-]+), so they
 * are safe subject tokens.
 */
export const rpcVerbs = ['status', 'readiness', 'drill', 'restore', 'rejoin', 'command'] as const;
export type RpcVerb = (typeof rpcVerbs)[number];

export const subjects = {
  /** Request/reply endpoint served by one node's agent for one VM. */
  rpc: (pair: string, vm: string, node: string, verb: RpcVerb) => `colo.${pair}.${vm}.rpc.${node}.${verb}`,
  /** Node-level status endpoint: one request answers for every VM the agent runs. */
  agentStatus: (pair: string, node: string) => `colo.${pair}.agent.${node}.status`,
  /** Heartbeats from one node about one VM. */
  heartbeat: (pair: string, vm: string, node: string) => `colo.${pair}.${vm}.hb.${node}`,
  /** Status feed of one node for one VM. */
  status: (pair: string, vm: string, node: string) => `colo.${pair}.${vm}.status.${node}`,
  /** Every status message of a pair (wildcard for subscribers). */
  allStatus: (pair: string) => `colo.${pair}.*.status.*`,
  /** Events (failover started, takeover done, ...) of one VM. */
  events: (pair: string, vm: string) => `colo.${pair}.${vm}.events`,
  /** Every event of a pair (wildcard for subscribers). */
  allEvents: (pair: string) => `colo.${pair}.*.events`,
  /** Every status message of every pair on this NATS (dashboards watching many pairs). */
  everyStatus: () => 'colo.*.*.status.*',
  everyEvent: () => 'colo.*.*.events',
  /** Every subject of one pair (wildcard for permissions). */
  allOfPair: (pair: string) => `colo.${pair}.>`,
  /** Every colo-ft subject on this NATS (wildcard for permissions). */
  everything: () => 'colo.>',
} as const;

/** Appended for the dashboard feed (the builders above are unchanged). */
export const feedSubjects = {
  /** The pair a status/event subject belongs to (`colo.<pair>.<vm>...`): subjects are built above, so this is their inverse. */
  pairOf: (subject: string): string | null => subject.split('.')[1] ?? null,
} as const;
