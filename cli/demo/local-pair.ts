import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentNodeOptions, freePorts, isPidAlive, pidsUnder, readPidFile, signalPid, startLocalNats, type LocalNatsServer } from '../../shared/local/index.js';
import { qemuImg } from '../../shared/qemu-img/index.js';
import { sleep } from '../../shared/sleep.js';
import { writeLocalPairConfigs, type LocalConfigPaths } from './local-configs.js';
import { newLocalNatsAuth, type LocalNatsAuth } from './local-nats-auth.js';
import { diskImageName, LOCAL_NODES, nodeDirs, type LocalPairSpec, issueLocalPki } from './pair-config.js';

// From dist/ the CLI sits beside this module; from the TypeScript sources (tests) use the build.
const CLI_MAIN = import.meta.url.endsWith('.ts')
  ? fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))
  : fileURLToPath(new URL('../main.js', import.meta.url));

export interface LocalPairOptions {
  dir: string;
  vmCount?: number;
  disksPerVm?: number;
  diskSizeBytes?: number;
  accelerator?: 'auto' | 'kvm' | 'tcg';
  checkpointDelayMs?: number;
  logLevel?: string;
  restore?: Record<string, number | boolean>;
  timings?: Record<string, number>;
  /** Fill every disk image with this byte (same content on both nodes), so a resync has real data to copy. */
  fillByte?: number;
  /** Extra keys for every VM (e.g. the tiny guest's machine and boot). */
  vmExtra?: Record<string, unknown>;
  /** Mutual TLS on the data channels (default on; the benchmarks measure off beside it). */
  tls?: 'on' | 'off';
  /** Node options for the agent processes (bench:idle --profile passes --cpu-prof). */
  nodeArgs?: readonly string[];
}

export interface LocalPair {
  /** DIR/pair.yaml: the operator's NATS login (status, drill, restore). */
  readonly configPath: string;
  /** Every config file of the pair: pair.yaml (operator), dashboard.yaml (read-only), NODE.yaml (each agent's own). */
  readonly configs: LocalConfigPaths;
  /** This run's NATS logins and the server config holding them (a restarted nats-server needs it again). */
  readonly natsAuth: LocalNatsAuth;
  readonly nats: LocalNatsServer;
  readonly vmNames: string[];
  /** PIDs of everything this pair started, for the teardown check. */
  pids(): number[];
  agentPid(node: string): number;
  /** Start a new agent process for this node (after the test killed or stopped the old one); returns its pid. */
  restartAgent(node: string, extraArgs?: string[]): number;
  /** Stop agents (they stop their qemu), then anything left by PID, then nats-server. Returns PIDs still alive (should be none). */
  teardown(): Promise<number[]>;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** nats-server, images, config and two agent processes: the demo's protected pair on loopback. */
export async function startLocalPair(o: LocalPairOptions): Promise<LocalPair> {
  mkdirSync(o.dir, { recursive: true });
  // NATS with the pair's production account: a login per agent, the operator and the read-only dashboard.
  const auth = newLocalNatsAuth('demo', LOCAL_NODES.map((n) => n.name));
  const nats = await startLocalNats({ dir: join(o.dir, 'nats'), configText: auth.serverConfig });
  const vmCount = o.vmCount ?? 1;
  const disks = o.disksPerVm ?? 1;
  const ports = await freePorts(vmCount * 2);
  const vms = Array.from({ length: vmCount }, (_, i) => ({
    name: `vm${i + 1}`,
    migrationPort: ports[2 * i]!,
    nbdPort: ports[2 * i + 1]!,
    disks,
  }));
  const spec: LocalPairSpec = { pair: 'demo', dir: o.dir, natsUrl: nats.url, vms, accelerator: o.accelerator, checkpointDelayMs: o.checkpointDelayMs, restore: o.restore, timings: o.timings, vmExtra: o.vmExtra, tls: o.tls };
  const configs = writeLocalPairConfigs(spec, auth);
  const configPath = configs.operator;
  issueLocalPki(spec);
  const img = qemuImg();
  for (const n of LOCAL_NODES) {
    const { runtimeDir, imageDir } = nodeDirs(o.dir, n.name);
    mkdirSync(runtimeDir, { recursive: true });
    mkdirSync(imageDir, { recursive: true });
    for (const vm of vms) {
      for (let i = 0; i < disks; i++) {
        const path = join(imageDir, diskImageName(vm.name, i));
        const size = o.diskSizeBytes ?? 64 * 1024 * 1024;
        await img.create(path, 'raw', size);
        if (o.fillByte !== undefined) execFileSync('qemu-io', ['-f', 'raw', '-c', `write -P ${o.fillByte} 0 ${size}`, path], { stdio: 'ignore' });
      }
    }
  }
  const spawnAgent = (node: string, extra: string[] = []) => {
    const log = openSync(join(o.dir, `agent-${node}.log`), 'a');
    const args = [...agentNodeOptions(), ...(o.nodeArgs ?? []), CLI_MAIN, 'agent', '--config', configs.nodes[node]!, '--node', node, ...(o.logLevel ? ['--log-level', o.logLevel] : []), ...extra];
    const child = spawn(process.execPath, args, { stdio: ['ignore', log, log], detached: true });
    closeSync(log);
    return child;
  };
  const agents = LOCAL_NODES.map((n) => spawnAgent(n.name));
  const retired: ChildProcess[] = [];
  const qemuPids = () =>
    LOCAL_NODES.flatMap((n) => vms.map((vm) => readPidFile(join(nodeDirs(o.dir, n.name).runtimeDir, vm.name, 'qemu.pid')))).filter(
      (p): p is number => p !== null,
    );
  let torn: Promise<number[]> | null = null;
  return {
    configPath,
    configs,
    natsAuth: auth,
    nats,
    vmNames: vms.map((v) => v.name),
    pids: () => [nats.pid, ...agents.map((a) => a.pid!).filter(Boolean), ...qemuPids()],
    agentPid: (node) => agents[LOCAL_NODES.findIndex((n) => n.name === node)]!.pid!,
    restartAgent(node, extra = []) {
      const i = LOCAL_NODES.findIndex((n) => n.name === node);
      retired.push(agents[i]!);
      agents[i] = spawnAgent(node, extra);
      return agents[i]!.pid!;
    },
    teardown() {
      torn ??= (async () => {
        const all = [nats.pid, ...agents.map((a) => a.pid!), ...retired.map((a) => a.pid!), ...qemuPids()];
        for (const a of retired) if (a.pid && a.exitCode === null && a.signalCode === null) signalPid(a.pid, 'SIGKILL');
        for (const a of agents) if (a.pid) signalPid(a.pid, 'SIGTERM');
        for (const a of agents) if (!(await waitExit(a, 15_000)) && a.pid) signalPid(a.pid, 'SIGKILL');
        for (const pid of qemuPids()) if (isPidAlive(pid)) signalPid(pid, 'SIGKILL');
        // A relay goes with its qemu; one whose agent was killed before it could stop it goes by PID.
        for (const pid of pidsUnder(o.dir, (name) => name === 'socat')) signalPid(pid, 'SIGKILL');
        await nats.stop();
        await sleep(100);
        return all.filter((p) => isPidAlive(p));
      })();
      return torn;
    },
  };
}
