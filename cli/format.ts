import type { VmStatus } from '../state-machines/index.js';

function ms(v: number | null): string {
  return v === null ? '-' : `${Math.round(v)} ms`;
}

/** Human-readable status of one VM: the summary first, then one line per node. */
export function formatVmStatus(s: VmStatus): string {
  const c = s.checkpoints;
  const lines = [
    `${s.vm}: ${s.protected ? 'PROTECTED' : 'NOT PROTECTED'}  phase ${s.phase}  epoch ${s.epoch}`,
    `  reason: ${s.reason}`,
    `  checkpoints: ${c.count} (${c.ratePerSec}/s), last pause ${ms(c.lastPauseMs)}, last ${ms(c.lastAgeMs)} ago`,
  ];
  for (const n of s.nodes) {
    if (!n.reachable) {
      lines.push(`  ${n.node}: unreachable (${n.reason})`);
      continue;
    }
    lines.push(
      `  ${n.node}: ${n.role}  qemu pid ${n.qemuPid ?? '-'}  run state ${n.runState ?? '-'}  COLO mode ${n.coloMode ?? '-'}  phase ${n.phase}`,
      `    qmp ${n.qmpSocket}`,
    );
  }
  return lines.join('\n');
}
