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
//   tls/servers/<server>/       that server's certificates (client port and route), to copy to its host
//   tls/clients/<pair>/<user>/  that user's client certificate, key and CA, to copy to its host
//   tls/*-ca*.pem               the route CA and the client CA (keys: keep them off the hosts)
//
// TLS is on by default (spec "tls": "issue"): clients and routes present
// certificates and the servers verify them; routes need no password. "tls":
// false turns it off, for isolated networks only.
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
async function loadDist(module) {
  try {
    return await import(new URL(`../../dist/${module}`, import.meta.url).href);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    console.error(`gen-nats-config: ${e.message}: build it first (npm run build)`);
    process.exit(2);
  }
}
// Users and permissions come from the same builders the agents and the CLI use.
const { pairUsers, renderPairAccount } = await loadDist('shared/nats/account-config.js');
const { issueNatsPki, natsPkiFiles, serverTlsNames, userTlsNames } = await loadDist('shared/tls/nats-pki.js');

const q = (s) => JSON.stringify(s);

/** The users of one pair, as `{ user, who, role, node }` (role and node for the file comments). */
export function usersOfPair(pair) {
  return pairUsers(pair.name, pair.nodes).map((u) => ({ ...u, role: u.who.role, node: u.who.role === 'agent' ? u.who.node : u.who.role }));
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
  if (spec.tls !== undefined && spec.tls !== 'issue' && spec.tls !== false) fail('tls: "issue" (the default: the generator issues every certificate) or false (no TLS: isolated networks only)');
}

/** Where the TLS files are on the hosts: `{server}` / `{pair}` and `{user}` stand for each one's name. */
function tlsDirs(spec) {
  return {
    server: (name) => (spec.serverTlsDir ?? '/etc/nats-server/colo-ft-tls').replaceAll('{server}', name),
    user: (pair, user) => (spec.clientTlsDir ?? '/etc/colo-ft/nats-tls/{user}').replaceAll('{pair}', pair).replaceAll('{user}', user),
  };
}

function tlsBlock(dir, names, route, indent) {
  const [cert, key, ca] = route ? [names.routeCert, names.routeKey, names.routeCa] : [names.cert, names.key, names.clientCa];
  return [
    'tls {',
    `  cert_file: ${q(join(dir, cert))}`,
    `  key_file: ${q(join(dir, key))}`,
    `  ca_file: ${q(join(dir, ca))}`,
    // Every client and every route presents a certificate of its CA.
    '  verify: true',
    '  timeout: 2',
    '}',
  ].join(`\n${indent}`);
}

/** Pure: spec + secrets -> { files: {name: text}, secrets }. Missing secrets are generated. */
export function renderCluster(spec, previousSecrets = {}, template = readFileSync(join(here, 'nats-server.conf.template'), 'utf8')) {
  validate(spec);
  const tls = spec.tls !== false;
  const dirs = tlsDirs(spec);
  const secrets = { system: previousSecrets.system ?? password(), users: { ...(previousSecrets.users ?? {}) } };
  const ports = { client: 4222, cluster: 6222, monitor: 8222, ...(spec.ports ?? {}) };
  const clusterName = spec.cluster ?? 'colo-ft';
  const files = {};

  const accounts = ['# colo-ft accounts: one per pair, so pairs share nothing (not even _INBOX).', 'accounts {', '  SYS {', `    users: [ { user: "sys", password: ${q(secrets.system)} } ]`, '  }'];
  for (const pair of spec.pairs) {
    const users = usersOfPair(pair);
    for (const u of users) secrets.users[u.user] ??= password();
    accounts.push(renderPairAccount(pair.name, users.map((u) => ({ ...u, password: secrets.users[u.user] }))));
    for (const u of users) {
      const dir = dirs.user(pair.name, u.user);
      files[join('credentials', pair.name, `${u.user}.yaml`)] =
        `# nats block for ${u.role === 'agent' ? `the agent of node ${u.node}` : `the ${u.role}`} of pair ${pair.name}\n` +
        (tls ? `# copy ${natsPkiFiles.userDir(pair.name, u.user)}/ of the generator's output to ${dir}/ on that host\n` : '') +
        `nats:\n  servers: [${spec.servers.map((s) => q(`${tls ? 'tls' : 'nats'}://${s.host}:${s.clientPort ?? ports.client}`)).join(', ')}]\n` +
        `  user: ${q(u.user)}\n  password: ${q(secrets.users[u.user])}\n` +
        (tls ? `  tls:\n    caFile: ${q(join(dir, userTlsNames.ca))}\n    certFile: ${q(join(dir, userTlsNames.cert))}\n    keyFile: ${q(join(dir, userTlsNames.key))}\n` : '') +
        (u.role === 'agent' ? `  kvReplicas: ${spec.kvReplicas ?? 3}\n` : '');
    }
  }
  accounts.push('}', 'system_account: SYS', '');
  files['accounts.conf'] = accounts.join('\n');

  for (const s of spec.servers) {
    const clientPort = s.clientPort ?? ports.client;
    const clusterPort = s.clusterPort ?? ports.cluster;
    const monitorPort = s.monitorPort ?? ports.monitor;
    const listenHost = s.listen ?? s.host;
    // A route is admitted by its route-CA certificate: no password in any URL.
    const routes = spec.servers
      .filter((o) => o.name !== s.name)
      .map((o) => `    ${q(`nats-route://${o.host}:${o.clusterPort ?? ports.cluster}`)}`)
      .join('\n');
    const dir = dirs.server(s.name);
    const values = {
      SERVER_NAME: s.name,
      CLIENT_LISTEN: `${listenHost}:${clientPort}`,
      MONITOR: monitorPort === null || monitorPort === 0 ? '' : `http: "${s.monitorListen ?? '127.0.0.1'}:${monitorPort}"`,
      ACCOUNTS_FILE: spec.accountsPath ?? 'accounts.conf',
      CLIENT_TLS: tls ? tlsBlock(dir, serverTlsNames, false, '') : '# no TLS (tls: false in the cluster spec): passwords cross the network in clear',
      STORE_DIR: s.storeDir ?? spec.storeDir ?? '/var/lib/nats-server/jetstream',
      CLUSTER_NAME: clusterName,
      CLUSTER_LISTEN: `${listenHost}:${clusterPort}`,
      ROUTES: routes,
      CLUSTER_TLS: tls ? tlsBlock(dir, serverTlsNames, true, '  ') : '# no TLS: any process that reaches this port can join the cluster',
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
  if (spec.tls !== false) {
    const users = spec.pairs.flatMap((p) => usersOfPair(p).map((u) => ({ pair: p.name, user: u.user })));
    issueNatsPki({ out, servers: spec.servers, users, days: spec.tlsDays });
  }
  for (const [name, text] of Object.entries(files)) {
    const path = join(out, name);
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, text, { mode: 0o600 });
  }
  console.log(`wrote ${Object.keys(files).length} files to ${out}`);
  if (spec.tls !== false) {
    console.log(`TLS: copy ${join(out, 'tls/servers/<server>')}/ to each server's ${tlsDirs(spec).server('<server>')}/ and ${join(out, 'tls/clients/<pair>/<user>')}/ to ${tlsDirs(spec).user('<pair>', '<user>')}/ on the host of that user; keep tls/*-key.pem (the CAs) off the hosts`);
  } else console.log('TLS off (tls: false): passwords cross the network in clear and any process that reaches the cluster port can join');
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
