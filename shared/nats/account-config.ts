/**
 * The nats-server `accounts` text of colo-ft pairs: one account per pair, its
 * users with the permissions of shared/nats/permissions.ts. Pure and free of
 * the nats package, so deploy/nats/gen-nats-config.mjs (production) and the
 * local pairs of the demo, tests and benches render the very same account.
 */
import { pairPermissions, type PairUser, type Permissions } from './permissions.js';

export interface PairUserEntry {
  /** NATS user name: `<pair>-<node>`, `<pair>-operator`, `<pair>-dashboard`. */
  user: string;
  /** What the user is: an agent (of a node), the operator (CLI), the dashboard (read-only). */
  who: PairUser;
}

/** Every user of a pair: one agent per node, the operator and the read-only dashboard. */
export function pairUsers(pair: string, nodes: readonly string[]): PairUserEntry[] {
  return [
    ...nodes.map((node) => ({ user: `${pair}-${node}`, who: { role: 'agent', node } as PairUser })),
    { user: `${pair}-operator`, who: { role: 'operator' } },
    { user: `${pair}-dashboard`, who: { role: 'dashboard' } },
  ];
}

/** A name nats-server takes as an account name. */
export function accountName(pair: string): string {
  return `PAIR_${pair.replaceAll('-', '_')}`;
}

const q = (s: string) => JSON.stringify(s);

function renderPermissions(perm: Permissions, indent: string): string {
  const list = (items: string[]) => items.map((s) => `${indent}    ${q(s)}`).join(',\n');
  const lines = [`${indent}permissions: {`];
  lines.push(`${indent}  publish: { allow: [\n${list(perm.publish.allow)}\n${indent}  ] }`);
  lines.push(`${indent}  subscribe: { allow: [\n${list(perm.subscribe.allow)}\n${indent}  ] }`);
  if (perm.allow_responses) lines.push(`${indent}  allow_responses: true`);
  lines.push(`${indent}}`);
  return lines.join('\n');
}

/** One pair's account block (JetStream on), each user with its password and permissions. */
export function renderPairAccount(pair: string, users: ReadonlyArray<PairUserEntry & { password: string }>): string {
  const lines = [`  ${accountName(pair)} {`, '    jetstream: enabled', '    users: ['];
  users.forEach((u, i) => {
    lines.push(`      { user: ${q(u.user)}, password: ${q(u.password)},`);
    lines.push(renderPermissions(pairPermissions(pair, u.who), '        '));
    lines.push(`      }${i < users.length - 1 ? ',' : ''}`);
  });
  lines.push('    ]', '  }');
  return lines.join('\n');
}
