/**
 * The real-guest figures (`bench:protect -- --guest`, `bench:failover -- --guest`):
 * the tiny Linux guest booted on the primary, then protected; then the primary's
 * qemu killed, timed until the survivor's guest prints its next counter line
 * (the outage a user of the guest sees). Each next to the same QMP sequence
 * issued by hand on the same guest in the same run. TCG unless
 * COLO_FT_GUEST_KVM=1: a nested host's KVM may not boot a Linux kernel.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { startAgent, type Agent } from '../agent/index.js';
import { diskImageName, LOCAL_NODES, localPairConfig, nodeDirs, issueLocalPki, type LocalPairSpec } from '../cli/demo/pair-config.js';
import { buildTinyGuest, TINY_GUEST_APPEND, tinyGuestVm, type TinyGuest } from '../cli/demo/tiny-guest.js';
import { newLocalNatsAuth } from '../cli/demo/local-nats-auth.js';
import { parseConfigText } from '../shared/config/index.js';
import { lastConsoleCounter } from '../shared/guest-records/index.js';
import { freePorts, readPidFile, startLocalNats } from '../shared/local/index.js';
import { silentLogger } from '../shared/log.js';
import { qemuImg } from '../shared/qemu/index.js';
import { sleep } from '../shared/sleep.js';
import { rawProtect } from './raw-colo.js';

const SIZE = 64 * 1024 * 1024;
export const guestKvm = process.env.COLO_FT_GUEST_KVM === '1';
const DELAY_MS = guestKvm ? 200 : 3_600_000;

export function tinyGuest(): Promise<TinyGuest> {
  return buildTinyGuest(join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'colo-ft', 'tiny-guest'));
}

function counterIn(path: string): number {
  try {
    return lastConsoleCounter(readFileSync(path, 'latin1')) ?? 0;
  } catch {
    return 0;
  }
}

async function untilCounter(path: string, above: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (counterIn(path) <= above) {
    if (performance.now() > deadline) throw new Error(`no COUNTER above ${above} in ${path} within ${timeoutMs} ms`);
    await sleep(2);
  }
  return performance.now();
}

export interface GuestRun {
  /** Protection started (the secondary's agent, or the raw sequence) -> both in COLO. */
  protectMs: number;
  migrateToColoMs: number;
  /** kill -9 of the primary qemu -> the survivor's guest prints its next counter. */
  outageMs: number;
}

/** One agent pair with the guest: boot on alpha, start beta, protect, kill alpha's qemu, wait for beta's guest. */
export async function agentGuestRun(dir: string, guest: TinyGuest): Promise<GuestRun> {
  // The pair's production account, as the demo and the test pairs have it: each agent logs in as itself.
  const auth = newLocalNatsAuth('bench', LOCAL_NODES.map((n) => n.name));
  const nats = await startLocalNats({ dir: join(dir, 'nats'), configText: auth.serverConfig });
  const agents: Agent[] = [];
  try {
    const [mig, nbd] = await freePorts(2);
    const accel = guestKvm ? 'kvm' : 'tcg';
    const spec: LocalPairSpec = { pair: 'bench', dir, natsUrl: nats.url, vms: [{ name: 'vm1', migrationPort: mig!, nbdPort: nbd!, disks: 1 }], accelerator: accel, vmExtra: tinyGuestVm(guest, accel) };
    const configOf = (node: string) => parseConfigText(localPairConfig(spec, auth.agent(node)));
    issueLocalPki(spec);
    for (const n of LOCAL_NODES) {
      const { runtimeDir, imageDir } = nodeDirs(dir, n.name);
      mkdirSync(runtimeDir, { recursive: true });
      mkdirSync(imageDir, { recursive: true });
      await qemuImg().create(join(imageDir, diskImageName('vm1', 0)), 'raw', SIZE);
    }
    const consoleOf = (node: string) => join(nodeDirs(dir, node).runtimeDir, 'vm1', 'console.log');
    const start = (node: string) => startAgent({ config: configOf(node), nodeName: node, log: silentLogger(), kvmUsable: guestKvm });
    agents.push(await start('alpha'));
    await untilCounter(consoleOf('alpha'), 3, 60_000);
    const t0 = Date.now();
    agents.push(await start('beta'));
    for (;;) {
      const statuses = agents.map((a) => a.controllers()[0]!.status());
      const entered = statuses.map((s) => s.transitions.find((t) => t.to === 'coloRunning')?.at);
      if (entered.every((x) => x !== undefined)) {
        const migrating = statuses[0]!.transitions.find((t) => t.to === 'migrating')!.at;
        const colo = Math.max(...(entered as number[]));
        const before = counterIn(consoleOf('beta'));
        await untilCounter(consoleOf('beta'), before, 30_000);
        const c0 = counterIn(consoleOf('beta'));
        const pid = readPidFile(join(nodeDirs(dir, 'alpha').runtimeDir, 'vm1', 'qemu.pid'))!;
        const tKill = performance.now();
        process.kill(pid, 'SIGKILL');
        const tNext = await untilCounter(consoleOf('beta'), c0, 30_000);
        return { protectMs: colo - t0, migrateToColoMs: colo - migrating, outageMs: tNext - tKill };
      }
      if (Date.now() > t0 + 120_000) throw new Error(`not protected within 120 s: ${statuses.map((s) => s.reason).join('; ')}`);
      await sleep(5);
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await nats.stop();
  }
}

/** The same by hand: colo-procedure.md's Protect on the booted guest, then kill -9 and nbd-server-stop + x-colo-lost-heartbeat on COLO_EXIT. */
export async function rawGuestRun(dir: string, guest: TinyGuest): Promise<GuestRun> {
  const g = { guest: { ...guest, append: TINY_GUEST_APPEND }, booted: async (log: string) => void (await untilCounter(log, 3, 60_000)) };
  const { pair, timings } = await rawProtect(dir, guestKvm, SIZE, DELAY_MS, undefined, g);
  try {
    const consoleLog = join(dir, 'secondary', 'console.log');
    await untilCounter(consoleLog, counterIn(consoleLog), 30_000);
    const c0 = counterIn(consoleLog);
    const s = pair.secondary.qmp;
    const call = { timeoutMs: 10_000 };
    const exited = new Promise<void>((resolve) => {
      const off = s.onEvent((e) => {
        if (e.event === 'COLO_EXIT') {
          off();
          resolve();
        }
      });
    });
    const tKill = performance.now();
    process.kill(pair.primary.proc.pid, 'SIGKILL');
    await exited;
    await s.execute('nbd-server-stop', undefined, call).catch(() => undefined);
    await s.execute('x-colo-lost-heartbeat', undefined, call).catch(() => undefined);
    const tNext = await untilCounter(consoleLog, c0, 30_000);
    return { protectMs: timings.startToColoMs, migrateToColoMs: timings.migrateToColoMs, outageMs: tNext - tKill };
  } finally {
    await pair.stop();
  }
}

/** N agent runs and N raw runs, alternating; prints the figure `kind` asks for next to its raw floor. */
export async function printGuestBench(kind: 'protect' | 'failover', root: string, runs: number): Promise<void> {
  const { fmtMs, median, percentile, ratio } = await import('./stats.js');
  const guest = await tinyGuest();
  console.log(`bench:${kind} --guest  ${runs} runs each, tiny Linux guest (1 vCPU, 128 MiB, 64 MiB virtio disk), ${guestKvm ? 'kvm, checkpoints every 200 ms' : 'tcg, periodic checkpoints off'}`);
  const agent: GuestRun[] = [];
  const raw: GuestRun[] = [];
  for (let i = 0; i < runs; i++) {
    raw.push(await rawGuestRun(join(root, `raw-${i}`), guest));
    agent.push(await agentGuestRun(join(root, `agent-${i}`), guest));
    const a = agent[i]!;
    const r = raw[i]!;
    console.log(
      kind === 'protect'
        ? `  run ${i + 1}: agents ${fmtMs(a.protectMs)} (migrate->COLO ${fmtMs(a.migrateToColoMs)}) | raw ${fmtMs(r.protectMs)} (migrate->COLO ${fmtMs(r.migrateToColoMs)})`
        : `  run ${i + 1}: kill -> next guest counter: agents ${fmtMs(a.outageMs)} | raw ${fmtMs(r.outageMs)}`,
    );
  }
  const row = (label: string, pick: (x: GuestRun) => number) => {
    const a = agent.map(pick);
    const r = raw.map(pick);
    console.log(`  ${label.padEnd(34)} ${fmtMs(median(a)).padEnd(12)} ${fmtMs(percentile(a, 99)).padEnd(12)} ${fmtMs(median(r)).padEnd(12)} ${ratio(median(a), median(r))}`);
  };
  console.log('');
  console.log(`  ${''.padEnd(34)} ${'median'.padEnd(12)} ${'p99'.padEnd(12)} ${'raw median'.padEnd(12)} ratio`);
  if (kind === 'protect') {
    row('booted guest -> protected', (x) => x.protectMs);
    row('migrate -> COLO running', (x) => x.migrateToColoMs);
    console.log("  (the agents' figure starts when the secondary's agent starts: NATS, qemu probe, readiness, disk copy)");
  } else {
    row('kill -9 primary -> next counter', (x) => x.outageMs);
    console.log('  (the guest prints a counter about every 120 ms: both figures include up to one such period)');
  }
}
