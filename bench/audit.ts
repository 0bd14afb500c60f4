/**
 * npm run bench:audit: what proving replication from qemu costs.
 * - QMP time of one audit round (four read-only queries and the pure verdict) against a
 *   real COLO pair, primary and secondary, next to the floor: one `query-status` round
 *   trip on the same qemu in the same run;
 * - the agents' CPU over a window with the audit at its default interval and with it
 *   effectively off (interval one hour), agents as separate processes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { auditAgainst } from '../agent/effects/replication-auditor.js';
import { diskIds } from '../shared/disk/index.js';
import { isKvmUsable, type VmPlan } from '../shared/qemu/index.js';
import { rawProtect } from './raw-colo.js';
import { awaitLocalPairProtected, fmtMs, median, percentile } from './stats.js';
import { cpuMsOf } from './proc.js';
import { sleep } from '../shared/sleep.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200);
const CPU_WINDOW_MS = Number(process.env.BENCH_CPU_SECONDS ?? 30) * 1000;
const kvm = process.env.COLO_FT_FORCE_TCG !== '1' && isKvmUsable();

function planFor(dir: string, role: 'primary' | 'secondary'): VmPlan {
  const runDir = join(dir, role);
  return {
    vm: 'raw', node: role, role, runDir,
    disks: [{ index: 0, ids: diskIds(0), layout: role, imagePath: join(runDir, 'disk0.img'), activePath: join(runDir, 'active0.qcow2'), hiddenPath: join(runDir, 'hidden0.qcow2'), exportName: 'd0' }],
  } as unknown as VmPlan;
}

async function qmpCost(root: string): Promise<void> {
  const { pair } = await rawProtect(join(root, 'raw'), kvm, 64 * 1024 * 1024);
  try {
    const peer = { node: 'secondary', nbd: { host: pair.nbd.host, port: pair.nbd.port }, disks: [{ index: 0, exportName: 'd0' }] };
    for (const [role, vm] of [['primary', pair.primary], ['secondary', pair.secondary]] as const) {
      const plan = planFor(join(root, 'raw'), role);
      const audit: number[] = [];
      const floor: number[] = [];
      let verdict = '';
      for (let i = 0; i < ROUNDS; i++) {
        const t0 = performance.now();
        await vm.qmp.execute('query-status', undefined, { timeoutMs: 5_000 });
        floor.push(performance.now() - t0);
        const a = await auditAgainst(vm, plan, peer, { timeoutMs: 5_000 });
        audit.push(a.costMs);
        verdict = a.state;
      }
      console.log(`  ${role.padEnd(9)} audit round median ${fmtMs(median(audit))}, p99 ${fmtMs(percentile(audit, 99))} | floor query-status ${fmtMs(median(floor))} (verdict: ${verdict})`);
    }
  } finally {
    await pair.stop();
  }
}

async function agentCpu(root: string, auditIntervalMs: number): Promise<Record<string, number>> {
  const dir = join(root, `cpu-${auditIntervalMs}`);
  const pair = await startLocalPair({ dir, accelerator: kvm ? 'auto' : 'tcg', restore: { auto: false }, timings: { auditIntervalMs } });
  try {
    await awaitLocalPairProtected(pair, 'bench-audit');
    const nodes = ['alpha', 'beta'];
    const before = nodes.map((n) => cpuMsOf([pair.agentPid(n)]));
    await sleep(CPU_WINDOW_MS);
    const after = nodes.map((n) => cpuMsOf([pair.agentPid(n)]));
    return Object.fromEntries(nodes.map((n, i) => [n, ((after[i]! - before[i]!) / CPU_WINDOW_MS) * 100]));
  } finally {
    await pair.teardown();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'colo-ft-bench-audit-'));
  try {
    console.log(`bench:audit  ${ROUNDS} rounds per side, accelerator ${kvm ? 'kvm' : 'tcg (-machine none)'}, 64 MiB VM, 1 COLO disk`);
    await qmpCost(root);
    const on = await agentCpu(root, 2_000);
    const off = await agentCpu(root, 3_600_000);
    const pct = (r: Record<string, number>) => Object.entries(r).map(([n, v]) => `${n} ${v.toFixed(2)} %`).join(', ');
    console.log(`  agent CPU over ${CPU_WINDOW_MS / 1000} s, audit every 2 s (default): ${pct(on)} of a core`);
    console.log(`  agent CPU over ${CPU_WINDOW_MS / 1000} s, audit off (every hour):     ${pct(off)} of a core`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
