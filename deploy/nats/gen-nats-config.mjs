#!/usr/bin/env node
// Generates the nats-server configuration of a colo-ft NATS cluster (the two
// COLO hosts and a witness) with JetStream, one account per pair and
// per-subject permissions, plus the matching `nats:` credentials for each
// agent, operator and dashboard.
//
//   node deploy/nats/gen-nats-config.mjs --spec cluster.json --out DIR
//
// Writes, in DIR:
//   <server>.conf               one per cluster member (from nats-server.conf.template)
//   accounts.conf               users, accounts and permissions; identical on every member (secret)
//   secrets.json                every generated password; reused on the next run, so
//                               re-running (say, after adding a pair) changes no password
//   credentials/<pair>/<user>.yaml   the `nats:` block for that user's colo-ft config
//
// Every file is written with mode 0600. Plain Node 20 and no npm dependencies,
// so it runs on the witness too; but it needs the built dist/ beside deploy/
// (a checkout after `npm run build`, or an install: install.sh ships both),
// because the permissions come from dist/shared/nats/permissions.js, built by
// the same subject and bucket builders the agents and the CLI use.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const NAME_RE = /^[a-z0-9-]+$/;
const here = dirname(fileURLToPath(import.meta.url));

/** ../../dist/ from here: the checkout's build, or the install's copy (install.sh puts deploy/ beside dist/). */
async function loadPermissions() {
  try {
    return await import(new URL('../../dist/shared/nats/permissions.js', import.meta.url).href);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    console.error(`gen-nats-config: ${e.message}: build it first (npm run build)`);
    process.exit(2);
  }
}
const { pairPermissions } = await loadPermissions();

const q = (s) => JSON.stringify(s);
const list = (items, indent) => items.map((s) => `${indent}${q(s)}`).join(',\n');

function renderPermissions(perm, indent) {
  const lines = [`${indent}permissions: {`];
  lines.push(`${indent}  publish: { allow: [\n${list(perm.publish.allow, `${indent}    `)}\n${indent}  ] }`);
  lines.push(`${indent}  subscribe: { allow: [\n${list(perm.subscribe.allow, `${indent}    `)}\n${indent}  ] }`);
  if (perm.allow_responses) lines.push(`${indent}  allow_responses: true`);
  lines.push(`${indent}}`);
  return lines.join('\n');
}

export function usersOfPair(pair) {
  return [...pair.nodes.map((n) => ({ role: 'agent', node: n })), { role: 'operator', node: 'operator' }, { role: 'dashboard', node: 'dashboard' }].map(
    (u) => ({ ...u, user: `${pair.name}-${u.node}` }),
  );
}

function password() {
  return randomBytes(24).toString('base64url');
}

function validate(spec) {
  const fail = (m) => {
    throw new Error(`cluster spec: ${m}`);
  };
  if (!Array.isArray(spec.servers) || spec.servers.length < 3 || spec.servers.length % 2 === 0) {
    fail('servers: list an odd number, at least 3 (two COLO hosts and a witness)');
  }
  for (const [i, s] of spec.servers.entries()) {
    if (!s.name || !NAME_RE.test(s.name)) fail(`servers[${i}].name must match [a-z0-9-]+`);
    if (!s.host) fail(`servers[${i}].host is required`);
  }
  if (!Array.isArray(spec.pairs) || spec.pairs.length === 0) fail('pairs: list at least one pair');
  for (const [i, p] of spec.pairs.entries()) {
    if (!p.name || !NAME_RE.test(p.name)) fail(`pairs[${i}].name must match [a-z0-9-]+`);
    if (!Array.isArray(p.nodes) || p.nodes.length !== 2 || !p.nodes.every((n) => NAME_RE.test(n))) {
      fail(`pairs[${i}].nodes must be the two node names of the pair config`);
    }
    if (p.nodes.some((n) => n === 'operator' || n === 'dashboard')) fail(`pairs[${i}].nodes: operator and dashboard are reserved`);
  }
}

/** Pure: spec + secrets -> { files: {name: text}, secrets }. Missing secrets are generated. */
export function renderCluster(spec, previousSecrets = {}, template = readFileSync(join(here, 'nats-server.conf.template'), 'utf8')) {
  validate(spec);
  const secrets = { route: previousSecrets.route ?? { user: 'route', password: password() }, system: previousSecrets.system ?? password(), users: { ...(previousSecrets.users ?? {}) } };
  const ports = { client: 4222, cluster: 6222, monitor: 8222, ...(spec.ports ?? {}) };
  const clusterName = spec.cluster ?? 'colo-ft';
  const files = {};

  const accounts = ['# colo-ft accounts: one per pair, so pairs share nothing (not even _INBOX).', 'accounts {', '  SYS {', `    users: [ { user: "sys", password: ${q(secrets.system)} } ]`, '  }'];
  for (const pair of spec.pairs) {
    accounts.push(`  PAIR_${pair.name.replaceAll('-', '_')} {`, '    jetstream: enabled', '    users: [');
    const users = usersOfPair(pair);
    users.forEach((u, i) => {
      secrets.users[u.user] ??= password();
      accounts.push(`      { user: ${q(u.user)}, password: ${q(secrets.users[u.user])},`);
      accounts.push(renderPermissions(pairPermissions(pair.name, u), '        '));
      accounts.push(`      }${i < users.length - 1 ? ',' : ''}`);
      files[join('credentials', pair.name, `${u.user}.yaml`)] =
        `# nats block for ${u.role === 'agent' ? `the agent of node ${u.node}` : `the ${u.role}`} of pair ${pair.name}\n` +
        `nats:\n  servers: [${spec.servers.map((s) => q(`nats://${s.host}:${s.clientPort ?? ports.client}`)).join(', ')}]\n` +
        `  user: ${q(u.user)}\n  password: ${q(secrets.users[u.user])}\n` +
        (u.role === 'agent' ? `  kvReplicas: ${spec.kvReplicas ?? 3}\n` : '');
    });
    accounts.push('    ]', '  }');
  }
  accounts.push('}', 'system_account: SYS', '');
  files['accounts.conf'] = accounts.join('\n');

  for (const s of spec.servers) {
    const clientPort = s.clientPort ?? ports.client;
    const clusterPort = s.clusterPort ?? ports.cluster;
    const monitorPort = s.monitorPort ?? ports.monitor;
    const listenHost = s.listen ?? s.host;
    const routes = spec.servers
      .filter((o) => o.name !== s.name)
      .map((o) => `    ${q(`nats-route://${secrets.route.user}:${secrets.route.password}@${o.host}:${o.clusterPort ?? ports.cluster}`)}`)
      .join('\n');
    const tls = spec.tls
      ? `tls {\n  cert_file: ${q(spec.tls.certFile)}\n  key_file: ${q(spec.tls.keyFile)}\n  ca_file: ${q(spec.tls.caFile)}\n  verify: false\n}`
      : '';
    const values = {
      SERVER_NAME: s.name,
      CLIENT_LISTEN: `${listenHost}:${clientPort}`,
      MONITOR: monitorPort === null || monitorPort === 0 ? '' : `http: "${s.monitorListen ?? '127.0.0.1'}:${monitorPort}"`,
      ACCOUNTS_FILE: spec.accountsPath ?? 'accounts.conf',
      CLIENT_TLS: tls,
      STORE_DIR: s.storeDir ?? spec.storeDir ?? '/var/lib/nats-server/jetstream',
      CLUSTER_NAME: clusterName,
      CLUSTER_LISTEN: `${listenHost}:${clusterPort}`,
      ROUTE_USER: secrets.route.user,
      ROUTE_PASSWORD: secrets.route.password,
      ROUTES: routes,
      CLUSTER_TLS: spec.tls ? tls.replaceAll('\n', '\n  ').replace('verify: false', 'verify: true') : '',
    };
    files[`${s.name}.conf`] = template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key) => {
      if (!(key in values)) throw new Error(`template: unknown placeholder {{${key}}}`);
      return values[key];
    });
  }
  files['secrets.json'] = `${JSON.stringify(secrets, null, 2)}\n`;
  return { files, secrets };
}

function main() {
  const { values } = parseArgs({ options: { spec: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || !values.spec || !values.out) {
    console.log('usage: gen-nats-config.mjs --spec cluster.json --out DIR   (see cluster.example.json)');
    return values.help ? 0 : 2;
  }
  const spec = JSON.parse(readFileSync(values.spec, 'utf8'));
  const out = resolve(values.out);
  const secretsPath = join(out, 'secrets.json');
  const previous = existsSync(secretsPath) ? JSON.parse(readFileSync(secretsPath, 'utf8')) : {};
  const { files } = renderCluster(spec, previous);
  for (const [name, text] of Object.entries(files)) {
    const path = join(out, name);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600 });
  }
  console.log(`wrote ${Object.keys(files).length} files to ${out}`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (e) {
    console.error(`gen-nats-config: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 2;
  }
}
