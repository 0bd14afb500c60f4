import { randomBytes } from 'node:crypto';
import { accountName, pairUsers, renderPairAccount, type PairUserEntry } from '../../shared/nats/index.js';

/** One NATS login of a local pair. */
export interface NatsCredential {
  user: string;
  password: string;
}

/**
 * A local pair's NATS logins for one run: the production account of the pair
 * (shared/nats/account-config.ts, the same per-subject permissions as
 * deploy/nats) with a fresh random password per user, so the demo, the test
 * pairs and the benches exercise the permission model on every run.
 */
export interface LocalNatsAuth {
  pair: string;
  users: ReadonlyArray<PairUserEntry & NatsCredential>;
  /** The agent login of one node (`<pair>-<node>`). */
  agent(node: string): NatsCredential;
  /** The operator login: status, drill, restore, command (what the CLI uses). */
  operator: NatsCredential;
  /** The read-only login: status feed, status queries (`serve`, `status --watch`). */
  dashboard: NatsCredential;
  /** The nats-server config text: this pair's account; anonymous clients are refused. */
  serverConfig: string;
}

/** Random passwords, url-safe (nats-server config and YAML take them as they are). */
function newPassword(): string {
  return randomBytes(24).toString('base64url');
}

export function newLocalNatsAuth(pair: string, nodes: readonly string[], password: () => string = newPassword): LocalNatsAuth {
  const users = pairUsers(pair, nodes).map((u) => ({ ...u, password: password() }));
  const login = (pick: (u: PairUserEntry) => boolean, what: string): NatsCredential => {
    const u = users.find(pick);
    if (!u) throw new Error(`no NATS user for ${what} in pair ${pair}`);
    return { user: u.user, password: u.password };
  };
  return {
    pair,
    users,
    agent: (node) => login((u) => u.who.role === 'agent' && u.who.node === node, `node ${node}`),
    operator: login((u) => u.who.role === 'operator', 'the operator'),
    dashboard: login((u) => u.who.role === 'dashboard', 'the dashboard'),
    serverConfig: localNatsServerConfig(pair, users),
  };
}

/** The `accounts` block of a local nats-server: one pair, no anonymous user, no system user. */
export function localNatsServerConfig(pair: string, users: ReadonlyArray<PairUserEntry & NatsCredential>): string {
  return [`# colo-ft local pair ${pair}: account ${accountName(pair)}, passwords generated for this run`, 'accounts {', renderPairAccount(pair, users), '}', ''].join('\n');
}
