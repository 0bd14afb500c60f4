import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { natsAuth } from '../../cli/connect.js';
import { writeLocalPairConfigs, type LocalConfigPaths } from '../../cli/demo/local-configs.js';
import { newLocalNatsAuth, type LocalNatsAuth } from '../../cli/demo/local-nats-auth.js';
import { diskImageName, LOCAL_NODES, nodeDirs, issueLocalPki, type LocalVmSpec } from '../../cli/demo/pair-config.js';
import { queryPairStatus } from '../../cli/pair-status.js';
import { startAgent, type Agent } from '../../agent/index.js';
import { loadConfig, type Config } from '../../shared/config/index.js';
import { silentLogger, createLogger, type Logger } from '../../shared/log.js';
import { freePorts, isPidAlive, readPidFile, signalPid } from '../../shared/local/index.js';
import { relayPidsUnder } from './qemu-vm.js';
import { connectBus, type Bus } from '../../shared/nats/index.js';
import { isKvmUsable, qemuImg } from '../../shared/qemu/index.js';
import type { VmStatus } from '../../state-machines/index.js';
import { natsLogins, startNatsServer, type NatsLogin } from './nats.js';
import { waitFor } from './wait-for.js';
import { protectedOrWhy } from './why-not-protected.js';

const MiB = 1024 * 1024;

/** KVM when usable, unless the run forces TCG (COLO_FT_FORCE_TCG=1) to prove the suite without /dev/kvm. */
export function kvmForTests(): boolean {
  return process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();
}

export interface PairOptions {
  /** Mutual TLS on NBD and the COLO stream (default on, certificates issued per run). */
  tls?: 'on' | 'off';
  vms?: number;
  disks?: number;
  accelerator?: 'auto' | 'kvm' | 'tcg';
  checkpointDelayMs?: number;
  /** Per node image size in bytes (default 64 MiB each). */
  sizeBytes?: Partial<Record<'alpha' | 'beta', number>>;
  timings?: Record<string, number>;
  restore?: Record<string, number | boolean>;
  vmExtra?: Record<string, unknown>;
  failover?: Record<string, string>;
  addresses?: Partial<Record<'alpha' | 'beta', string>>;
}

export interface TestPair {
  dir: string;
  /** The operator's config (pair.yaml): what the CLI's status, drill and restore use. */
  config: Config;
  configPath: string;
  /** Every config file: pair.yaml (operator), dashboard.yaml (read-only), NODE.yaml (each agent's own login). */
  configs: LocalConfigPaths;
  /** A node's own config, with its agent login (what its agent is started with). */
  nodeConfig(node: 'alpha' | 'beta'): Config;
  /** The read-only config (dashboard.yaml): for `serve` and `status --watch`. */
  dashboardConfig: Config;
  /** This run's NATS logins (the server refuses anyone else). */
  natsAuth: LocalNatsAuth;
  natsUrl: string;
  vmNames: string[];
  /** A client connection for the test itself, as the CLI would have (the operator's login). */
  client: Bus;
  /** A read-only connection (the dashboard's login), as `serve` has. */
  dashboard: Bus;
  /** Who is connected to the pair's nats-server now, and as which user. */
  natsLogins(): Promise<NatsLogin[]>;
  /** Start a node's agent; `natsUrl` lets a test route one agent through its own path (a proxy it can cut); `log` captures its lines. */
  startAgent(node: 'alpha' | 'beta', o?: { natsUrl?: string; qemuBinary?: string; relayBinary?: string; log?: Logger }): Promise<Agent>;
  natsPort: number;
  restartNats(downMs?: number): Promise<void>;
  /** kill -9 the nats-server, keep it down for `downMs`, start it again on the same port and store; resolves once it listens. */
  killNats(downMs: number): Promise<void>;
  agent(node: 'alpha' | 'beta'): Agent | undefined;
  status(vm?: string): Promise<VmStatus>;
  waitProtected(vm?: string, timeoutMs?: number): Promise<VmStatus>;
  imagePath(node: 'alpha' | 'beta', vm: string, disk?: number): string;
  qemuPid(node: 'alpha' | 'beta', vm: string): number | null;
  stopAgents(): Promise<void>;
}

/**
 * A real nats-server, a config for two nodes on loopback, raw images on both
 * nodes; agents run in-process with real adapters. Everything is stopped by PID
 * when the test ends, pass or fail.
 */
export async function setupPair(dir: string, o: PairOptions = {}): Promise<TestPair> {
  // The production account of the pair, passwords new each run: no anonymous client gets in.
  const auth = newLocalNatsAuth('test', LOCAL_NODES.map((n) => n.name));
  const natsOptions = { configText: auth.serverConfig, monitor: true };
  const nats = await startNatsServer(dir, natsOptions);
  let current = nats;
  const vmCount = o.vms ?? 1;
  const disks = o.disks ?? 1;
  const ports = await freePorts(vmCount * 2);
  const vms: LocalVmSpec[] = Array.from({ length: vmCount }, (_, i) => ({ name: `vm${i + 1}`, migrationPort: ports[2 * i]!, nbdPort: ports[2 * i + 1]!, disks }));
  const accelerator = o.accelerator ?? (kvmForTests() ? 'auto' : 'tcg');
  // A drive-only VM on every accelerator: nothing a guest sees, so no canary disk, and patterns go to disk 0.
  const vmExtra = { machine: { type: 'none', accelerator }, ...o.vmExtra };
  const spec = { pair: 'test', dir, natsUrl: nats.url, vms, accelerator, checkpointDelayMs: o.checkpointDelayMs, timings: o.timings, restore: o.restore, vmExtra, failover: o.failover, addresses: o.addresses, tls: o.tls };
  const configs = writeLocalPairConfigs(spec, auth);
  const configPath = configs.operator;
  issueLocalPki(spec);
  const config = loadConfig(configPath);
  const nodeConfigs = { alpha: loadConfig(configs.nodes.alpha!), beta: loadConfig(configs.nodes.beta!) };
  const dashboardConfig = loadConfig(configs.dashboard);
  const img = qemuImg();
  for (const n of LOCAL_NODES) {
    const { runtimeDir, imageDir } = nodeDirs(dir, n.name);
    mkdirSync(runtimeDir, { recursive: true });
    mkdirSync(imageDir, { recursive: true });
    for (const vm of vms) for (let i = 0; i < disks; i++) await img.create(join(imageDir, diskImageName(vm.name, i)), 'raw', o.sizeBytes?.[n.name] ?? 64 * MiB);
  }
  const agents = new Map<string, Agent>();
  const qemuPid = (node: string, vm: string) => readPidFile(join(nodeDirs(dir, node).runtimeDir, vm, 'qemu.pid'));
  onTestFinished(async () => {
    await Promise.all([...agents.values()].map((a) => a.stop()));
    for (const n of LOCAL_NODES) for (const vm of vms) {
      const pid = qemuPid(n.name, vm.name);
      if (pid && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    // Relays stop with their qemu while this process watches; one whose qemu died unseen is killed by PID.
    for (const pid of relayPidsUnder(dir)) signalPid(pid, 'SIGKILL');
  });
  const client = await connectBus({ ...natsAuth(config), name: 'test-client', log: silentLogger() });
  onTestFinished(() => client.close());
  const dashboard = await connectBus({ ...natsAuth(dashboardConfig), name: 'test-dashboard', log: silentLogger() });
  onTestFinished(() => dashboard.close());
  const log = process.env.COLO_FT_TEST_LOG ? createLogger('test', { level: process.env.COLO_FT_TEST_LOG }) : silentLogger();
  const status = async (vm = vms[0]!.name) => {
    const s = await queryPairStatus(client, config, 2_000);
    return s.vms.find((v) => v.vm === vm)!;
  };
  return {
    dir,
    config,
    configPath,
    configs,
    nodeConfig: (node) => nodeConfigs[node],
    dashboardConfig,
    natsAuth: auth,
    natsUrl: nats.url,
    vmNames: vms.map((v) => v.name),
    client,
    dashboard,
    natsLogins: () => natsLogins(current.monitorUrl!),
    natsPort: nats.port,
    async restartNats(downMs = 0) {
      await current.stop();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      current = await startNatsServer(dir, { ...natsOptions, port: nats.port });
    },
    async killNats(downMs) {
      process.kill(current.pid, 'SIGKILL');
      await current.exited;
      await new Promise((r) => setTimeout(r, downMs));
      current = await startNatsServer(dir, { ...natsOptions, port: nats.port });
    },
    async startAgent(node, opts = {}) {
      // Each agent logs in as itself, as on its own host.
      const own = nodeConfigs[node];
      const cfg = opts.natsUrl ? { ...own, nats: { ...own.nats, servers: [opts.natsUrl] } } : own;
      const a = await startAgent({ config: cfg, nodeName: node, log: opts.log ?? log, kvmUsable: kvmForTests(), qemuBinary: opts.qemuBinary, relayBinary: opts.relayBinary });
      agents.set(node, a);
      return a;
    },
    agent: (node) => agents.get(node),
    status,
    waitProtected: (vm, timeoutMs = 30_000) =>
      waitFor(async () => protectedOrWhy(await status(vm)), { timeoutMs, what: `${vm ?? vms[0]!.name} protected` }),
    imagePath: (node, vm, disk = 0) => join(nodeDirs(dir, node).imageDir, diskImageName(vm, disk)),
    qemuPid,
    async stopAgents() {
      await Promise.all([...agents.values()].map((a) => a.stop()));
    },
  };
}
