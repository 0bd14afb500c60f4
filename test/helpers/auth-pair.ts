import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { parse, stringify } from 'yaml';
import { diskImageName, issueLocalPki, LOCAL_NODES, localPairConfig, nodeDirs } from '../../cli/demo/pair-config.js';
import { queryPairStatus } from '../../cli/pair-status.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { parseConfigText, type Config } from '../../shared/config/index.js';
import { freePorts, isPidAlive, readPidFile } from '../../shared/local/index.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import type { Bus } from '../../shared/nats/index.js';
import { qemuImg } from '../../shared/qemu/index.js';
import type { VmStatus } from '../../state-machines/index.js';
import { startNatsCluster, type NatsCluster } from './nats-cluster.js';
import { kvmForTests } from './pair.js';
import { waitFor } from './wait-for.js';

const MiB = 1024 * 1024;
type NodeName = 'alpha' | 'beta';

export interface AuthPair {
  cluster: NatsCluster;
  /** The config as the operator's host has it (operator credential). */
  operatorConfig: Config;
  /** Each node's own config: the same pair, that node's agent credential. */
  nodeConfig(node: NodeName): Config;
  operator: Bus;
  startAgent(node: NodeName): Promise<Agent>;
  status(vm?: string): Promise<VmStatus>;
  waitProtected(vm?: string, timeoutMs?: number): Promise<VmStatus>;
  qemuPid(node: NodeName, vm: string): number | null;
}

/**
 * A one-VM pair on loopback whose agents, operator and dashboard authenticate
 * to a three-server NATS cluster configured by the shipped generator: each
 * node's config carries its own agent credential and kvReplicas 3, as the
 * production configs do. Agents run in-process with real adapters; agents,
 * qemu and the NATS servers are stopped by PID when the test ends.
 */
export async function setupAuthPair(dir: string, o: { pair?: string; timings?: Record<string, number> } = {}): Promise<AuthPair> {
  const pair = o.pair ?? 'demo';
  const cluster = await startNatsCluster(join(dir, 'nats'), [{ name: pair, nodes: ['alpha', 'beta'] }]);
  const [migrationPort, nbdPort] = await freePorts(2);
  const spec = { pair, dir, natsUrl: cluster.urls[0]!, timings: o.timings, vms: [{ name: 'vm1', migrationPort: migrationPort!, nbdPort: nbdPort!, disks: 1 }] };
  const base = parse(localPairConfig(spec)) as Record<string, unknown>;
  issueLocalPki(spec);
  const configFor = (user: string, extra: Record<string, unknown> = {}): Config => {
    const { password } = cluster.users[user]!;
    const text = stringify({ ...base, nats: { servers: cluster.urls, user, password, tls: cluster.tlsOf(user), ...extra } });
    const path = join(dir, `${user}.yaml`);
    writeFileSync(path, text, { mode: 0o600 });
    return parseConfigText(text, path);
  };
  const nodeConfigs = { alpha: configFor(`${pair}-alpha`, { kvReplicas: 3 }), beta: configFor(`${pair}-beta`, { kvReplicas: 3 }) };
  const operatorConfig = configFor(`${pair}-operator`);

  const img = qemuImg();
  for (const n of LOCAL_NODES) {
    const { runtimeDir, imageDir } = nodeDirs(dir, n.name);
    mkdirSync(runtimeDir, { recursive: true });
    mkdirSync(imageDir, { recursive: true });
    await img.create(join(imageDir, diskImageName('vm1', 0)), 'raw', 64 * MiB);
  }
  const agents = new Map<string, Agent>();
  const qemuPid = (node: string, vm: string) => readPidFile(join(nodeDirs(dir, node).runtimeDir, vm, 'qemu.pid'));
  onTestFinished(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    for (const n of LOCAL_NODES) {
      const pid = qemuPid(n.name, 'vm1');
      if (pid && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });
  const operator = await cluster.connect(`${pair}-operator`);
  const log = process.env.COLO_FT_TEST_LOG ? createLogger('test', { level: process.env.COLO_FT_TEST_LOG }) : silentLogger();
  const status = async (vm = 'vm1') => (await queryPairStatus(operator, operatorConfig, 2_000)).vms.find((v) => v.vm === vm)!;
  return {
    cluster,
    operatorConfig,
    nodeConfig: (node) => nodeConfigs[node],
    operator,
    async startAgent(node) {
      const a = await startAgent({ config: nodeConfigs[node], nodeName: node, log, kvmUsable: kvmForTests() });
      agents.set(node, a);
      return a;
    },
    status,
    waitProtected: (vm = 'vm1', timeoutMs = 60_000) =>
      waitFor(async () => {
        const s = await status(vm);
        return s.protected ? s : false;
      }, { timeoutMs, what: `${vm} protected` }),
    qemuPid,
  };
}
