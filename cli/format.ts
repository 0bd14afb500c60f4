import type { VmStatus } from '../state-machines/index.js';

function ms(v: number | null): string {
  return v === null ? '-' : `${Math.round(v)} ms`;
}

type NicView = VmStatus['nodes'][number]['nics'][number];

/** One NIC on a node: its proxy as qemu holds it, and colo-compare's figures where one runs. */
export function formatNic(nic: NicView): string {
  const head = `nic ${nic.index} (${nic.netdev}, ${nic.mac}): ${nic.proxied ? `proxy ${nic.proxy ?? 'unknown'}` : 'not proxied'}`;
  if (nic.packetsCompared === null) return head;
  return `${head}, ${nic.packetsCompared} compared, ${nic.miscompares} miscompares, ${nic.miscompareCheckpoints} checkpoints forced`;
}

/** Human-readable status of one VM: the summary first, then one line per node. */
export function formatVmStatus(s: VmStatus): string {
  const c = s.checkpoints;
  const lines = [
    `${s.vm}: ${s.protected ? 'PROTECTED' : 'NOT PROTECTED'}  phase ${s.phase}  epoch ${s.epoch}`,
    `  reason: ${s.reason}`,
    `  checkpoints: ${c.count} (${c.ratePerSec}/s), last pause ${ms(c.lastPauseMs)}, last ${ms(c.lastAgeMs)} ago`,
    `  pause over the last minute: p50 ${ms(c.pauseMsP50)}, p99 ${ms(c.pauseMsP99)}, guest stopped ${c.pausedFraction === null ? '-' : `${(c.pausedFraction * 100).toFixed(1)} %`}`,
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
    if (n.dataTls === false) lines.push('    WARNING no TLS on the data channels (replication.tls off): the NBD export and the COLO stream accept anyone who can reach them');
    for (const nic of n.nics ?? []) lines.push(`    ${formatNic(nic)}`);
  }
  return lines.join('\n');
}
