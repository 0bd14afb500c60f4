import { spawn, execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { freePorts, isPidAlive } from '../../shared/local/index.js';
import { connectBus, kvBuckets, type Bus } from '../../shared/nats/index.js';
import { waitFor } from './wait-for.js';

export const GENERATOR = join(process.cwd(), 'deploy', 'nats', 'gen-nats-config.mjs');

export interface ClusterUser {
  user: string;
  password: string;
}

export interface ClusterTls {
  caFile: string;
  certFile?: string;
  keyFile?: string;
}

export interface ClusterMember {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  readonly isRunning: boolean;
  /** SIGKILL (a host lost) or SIGTERM; resolves when the pid is gone. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

export interface NatsCluster {
  dir: string;
  /** Client URLs of all three members. */
  urls: string[];
  members: ClusterMember[];
  /** Credentials by user name (`<pair>-<node>`, `<pair>-operator`, `<pair>-dashboard`). */
  users: Record<string, ClusterUser>;
  /** The `nats.tls` files of one user (its client certificate, key and the client CA). */
  tlsOf(user: string): ClusterTls;
  /** A bus connected with one user's credentials and certificate (closed when the test ends). */
  connect(user: string | null, o?: { servers?: string[]; connectTimeoutMs?: number; tls?: ClusterTls }): Promise<Bus>;
  /** Every server log line so far (permission violations show up here). */
  logs(): string;
}

export interface ClusterSpecPair {
  name: string;
  nodes: [string, string];
}

const MEMBER_NAMES = ['alpha', 'beta', 'witness'] as const;

/**
 * Three nats-server processes on loopback forming one JetStream cluster,
 * configured by deploy/nats/gen-nats-config.mjs (the shipped generator and
 * template, so the test proves what production runs). Each member has its own
 * store dir and log, and is stopped by PID when the test ends, pass or fail.
 * Resolves once JetStream has a meta leader (an R3 KV bucket can be created).
 */
export interface ClusterOptions {
  /** Rewrite the generated accounts.conf before the servers start (permission experiments). */
  editAccounts?: (text: string) => string;
  /** How long to wait for JetStream to accept an R3 bucket (default 30 s). */
  readyTimeoutMs?: number;
}

export async function startNatsCluster(dir: string, pairs: ClusterSpecPair[], o: ClusterOptions = {}): Promise<NatsCluster> {
  mkdirSync(dir, { recursive: true });
  const ports = await freePorts(6);
  const spec = {
    cluster: 'colo-ft-test',
    servers: MEMBER_NAMES.map((name, i) => ({
      name,
      host: '127.0.0.1',
      clientPort: ports[i]!,
      clusterPort: ports[3 + i]!,
      monitorPort: 0,
      storeDir: join(dir, name, 'jetstream'),
    })),
    kvReplicas: 3,
    pairs,
    // TLS as in production (the generator's default), the files used where it issues them.
    serverTlsDir: join(dir, 'conf', 'tls', 'servers', '{server}'),
    clientTlsDir: join(dir, 'conf', 'tls', 'clients', '{pair}', '{user}'),
  };
  const specPath = join(dir, 'cluster.json');
  const confDir = join(dir, 'conf');
  writeFileSync(specPath, JSON.stringify(spec, null, 2));
  execFileSync(process.execPath, [GENERATOR, '--spec', specPath, '--out', confDir], { stdio: 'pipe' });
  if (o.editAccounts) {
    const accountsPath = join(confDir, 'accounts.conf');
    writeFileSync(accountsPath, o.editAccounts(readFileSync(accountsPath, 'utf8')));
  }
  const secrets = JSON.parse(readFileSync(join(confDir, 'secrets.json'), 'utf8')) as { users: Record<string, string> };
  const users = Object.fromEntries(Object.entries(secrets.users).map(([user, password]) => [user, { user, password }]));
  const tlsOf = (user: string): ClusterTls => {
    const pair = pairs.find((p) => [...p.nodes, 'operator', 'dashboard'].some((n) => user === `${p.name}-${n}`))?.name ?? pairs[0]!.name;
    const d = join(confDir, 'tls', 'clients', pair, user);
    return { caFile: join(d, 'ca.pem'), certFile: join(d, 'cert.pem'), keyFile: join(d, 'key.pem') };
  };
  const firstAgent = `${pairs[0]!.name}-${pairs[0]!.nodes[0]}`;

  const logFiles: string[] = [];
  const members: ClusterMember[] = [];
  for (const [i, name] of MEMBER_NAMES.entries()) {
    const memberDir = join(dir, name);
    mkdirSync(memberDir, { recursive: true });
    const logPath = join(memberDir, 'nats-server.log');
    logFiles.push(logPath);
    const log = openSync(logPath, 'a');
    const child = spawn('nats-server', ['-c', join(confDir, `${name}.conf`)], { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    const pid = child.pid;
    if (pid === undefined) throw new Error('cannot start nats-server (is the nats-server package installed?)');
    let running = true;
    const exited = new Promise<void>((resolve) => {
      child.on('exit', () => {
        running = false;
        resolve();
      });
    });
    const stop = async (signal: 'SIGKILL' | 'SIGTERM' = 'SIGTERM') => {
      if (!running) return;
      try {
        process.kill(pid, signal);
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        if (isPidAlive(pid)) process.kill(pid, 'SIGKILL');
      }, 3_000);
      await exited;
      clearTimeout(timer);
    };
    // Registered at once: a member that fails to come up is still stopped.
    onTestFinished(() => stop('SIGKILL'));
    members.push({
      name,
      url: `nats://127.0.0.1:${ports[i]!}`,
      pid,
      get isRunning() {
        return running;
      },
      stop,
    });
  }
  const logs = () => logFiles.map((f) => readFileSync(f, 'utf8')).join('\n');
  await waitFor(() => logs().split('\n').filter((l) => l.includes('Server is ready')).length === 3, { timeoutMs: 15_000, what: 'three nats-servers ready' });

  const connect = async (user: string | null, o: { servers?: string[]; connectTimeoutMs?: number; tls?: ClusterTls } = {}): Promise<Bus> => {
    // An unknown user presents a valid certificate (the first agent's) with a wrong password; anonymous, the CA only.
    const known = user !== null && users[user] !== undefined;
    const creds = user === null ? {} : { user, password: users[user]?.password ?? 'wrong' };
    const tls = o.tls ?? (user === null ? { caFile: tlsOf(firstAgent).caFile } : tlsOf(known ? user : firstAgent));
    const bus = await connectBus({
      servers: o.servers ?? members.map((m) => m.url),
      name: `test-${user ?? 'anonymous'}`,
      connectTimeoutMs: o.connectTimeoutMs ?? 2_000,
      log: silentLogger(),
      ...creds,
      tls,
    });
    onTestFinished(() => bus.close());
    return bus;
  };

  // JetStream is usable once the cluster has a meta leader: an R3 bucket can be opened.
  const probe = await connect(firstAgent);
  await waitFor(
    async () => {
      await probe.kv(kvBuckets.lease(pairs[0]!.name), { replicas: 3 });
      return true;
    },
    { timeoutMs: o.readyTimeoutMs ?? 30_000, intervalMs: 250, what: 'a JetStream meta leader (R3 KV bucket created)' },
  );
  await probe.close();

  return { dir, urls: members.map((m) => m.url), members, users, tlsOf, connect, logs };
}

/** Log lines about permission violations, for asserting a denial happened at the server. */
export function violations(logs: string): string[] {
  return logs.split('\n').filter((l) => /Violation/i.test(l));
}
