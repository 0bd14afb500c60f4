/**
 * npm run bench:protect: time from both agents started to protected, and from
 * `migrate` to COLO running, median over N runs, next to the same QMP sequence
 * issued directly (the raw floor) in the same run.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskImageName, LOCAL_NODES, localPairConfig, nodeDirs, issueLocalPki, type LocalPairSpec } from '../cli/demo/pair-config.js';
import { startAgent, type Agent } from '../agent/index.js';
import { newLocalNatsAuth } from '../cli/demo/local-nats-auth.js';
import { parseConfigText } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { freePorts, startLocalNats } from '../shared/local/index.js';
import { isKvmUsable, qemuImg } from '../shared/qemu/index.js';
import { printGuestBench } from './guest.js';
import { rawProtect } from './raw-colo.js';
import { fmtMs, median, ratio } from './stats.js';
import { sleep } from '../shared/sleep.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const SIZE = 64 * 1024 * 1024;
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();

async function agentRun(dir: string): Promise<{ startToProtectedMs: number; migrateToColoMs: number }> {
  // The pair's production account, as the demo and the test pairs have it: each agent logs in as itself.
  const auth = newLocalNatsAuth('bench', LOCAL_NODES.map((n) => n.name));
  const nats = await startLocalNats({ dir: join(dir, 'nats'), configText: auth.serverConfig });
  const agents: Agent[] = [];
  try {
    const [mig, nbd] = await freePorts(2);
    const spec: LocalPairSpec = { pair: 'bench', dir, natsUrl: nats.url, vms: [{ name: 'vm1', migrationPort: mig!, nbdPort: nbd!, disks: 1 }], accelerator: kvm ? 'auto' : 'tcg' };
    const configOf = (node: string) => parseConfigText(localPairConfig(spec, auth.agent(node)));
    issueLocalPki(spec);
    for (const n of LOCAL_NODES) {
      const { runtimeDir, imageDir } = nodeDirs(dir, n.name);
      mkdirSync(runtimeDir, { recursive: true });
      mkdirSync(imageDir, { recursive: true });
      await qemuImg().create(join(imageDir, diskImageName('vm1', 0)), 'raw', SIZE);
    }
    const t0 = Date.now();
    agents.push(...(await Promise.all(LOCAL_NODES.map((n) => startAgent({ config: configOf(n.name), nodeName: n.name, log: silentLogger(), kvmUsable: kvm })))));
    const deadline = t0 + 60_000;
    for (;;) {
      const statuses = agents.map((a) => a.controllers()[0]!.status());
      const entered = statuses.map((s) => s.transitions.find((t) => t.to === 'coloRunning')?.at);
      if (entered.every((x) => x !== undefined)) {
        const primary = statuses.find((s) => s.role === 'primary')!;
        const migrating = primary.transitions.find((t) => t.to === 'migrating')!.at;
        const colo = Math.max(...(entered as number[]));
        return { startToProtectedMs: colo - t0, migrateToColoMs: colo - migrating };
      }
      if (Date.now() > deadline) throw new Error(`not protected within 60 s: ${statuses.map((s) => s.reason).join('; ')}`);
      await sleep(5);
    }
  } finally {
    await Promise.all(agents.map((a) => a.stop()));
    await nats.stop();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'colo-ft-bench-protect-'));
  if (process.argv.includes('--guest')) {
    await printGuestBench('protect', root, RUNS);
    rmSync(root, { recursive: true, force: true });
    return;
  }
  const agent: Array<{ startToProtectedMs: number; migrateToColoMs: number }> = [];
  const raw: Array<{ startToColoMs: number; migrateToColoMs: number }> = [];
  console.log(`bench:protect  ${RUNS} runs each, 64 MiB RAM, one 64 MiB disk, accelerator ${kvm ? 'kvm' : 'tcg (-machine none)'}, migration over TCP on loopback`);
  for (let i = 0; i < RUNS; i++) {
    const rawDir = join(root, `raw-${i}`);
    const { pair, timings } = await rawProtect(rawDir, kvm, SIZE);
    await pair.stop();
    raw.push(timings);
    agent.push(await agentRun(join(root, `agent-${i}`)));
    console.log(
      `  run ${i + 1}: agents ${fmtMs(agent[i]!.startToProtectedMs)} (migrate->COLO ${fmtMs(agent[i]!.migrateToColoMs)}) | raw ${fmtMs(raw[i]!.startToColoMs)} (migrate->COLO ${fmtMs(raw[i]!.migrateToColoMs)})`,
    );
  }
  const a1 = median(agent.map((x) => x.startToProtectedMs));
  const r1 = median(raw.map((x) => x.startToColoMs));
  const a2 = median(agent.map((x) => x.migrateToColoMs));
  const r2 = median(raw.map((x) => x.migrateToColoMs));
  console.log('');
  console.log('                          colo-ft agents     raw QMP floor     ratio');
  console.log(`  start -> protected      ${fmtMs(a1).padEnd(18)} ${fmtMs(r1).padEnd(17)} ${ratio(a1, r1)}`);
  console.log(`  migrate -> COLO running ${fmtMs(a2).padEnd(18)} ${fmtMs(r2).padEnd(17)} ${ratio(a2, r2)}`);
  console.log('  (median; the agents\' start includes connecting to NATS, probing qemu and the readiness handshake)');
  rmSync(root, { recursive: true, force: true });
}

await main();
