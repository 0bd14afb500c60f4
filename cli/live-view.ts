/**
 * The demo's and `status --watch`'s terminal output. On a TTY: one compact
 * view per VM (badge, phase, roles, pause p50, reason), redrawn in place at
 * the bottom, with a line per change printed above it, so changes scroll and
 * the view stays. Not a TTY: only the change lines, one each.
 */
export interface LiveNode {
  node: string;
  reachable: boolean;
  role: string | null;
  phase: string | null;
  qemuPid?: number | null;
}

export interface LiveVm {
  vm: string;
  protected: boolean;
  phase: string;
  reason: string;
  epoch: number;
  nodes: readonly LiveNode[];
  checkpoints: { pauseMsP50?: number | null } | null;
}

export interface LiveOut {
  isTTY?: boolean;
  write(text: string): unknown;
}

const badge = (v: LiveVm): string => (v.protected ? 'PROTECTED' : 'NOT PROTECTED');
const qemu = (n: LiveNode): string => (n.qemuPid ? ` (qemu pid ${n.qemuPid})` : '');
const roles = (v: LiveVm): string => v.nodes.map((n) => (n.reachable ? `${n.node} ${n.role ?? '-'} ${n.phase ?? '-'}${qemu(n)}` : `${n.node} unreachable`)).join(' · ');
const p50 = (v: LiveVm): string => (v.checkpoints?.pauseMsP50 == null ? '-' : `${v.checkpoints.pauseMsP50} ms`);
const clock = (at: Date): string => at.toISOString().slice(11, 19);

/** What a person watching cares about: a line is printed when this changes (not when only figures move). */
export function changeSignature(v: LiveVm): string {
  return `${v.protected}|${v.phase}|${v.epoch}|${v.reason}|${roles(v)}`;
}

export function changeLine(v: LiveVm, at: Date): string {
  return `${clock(at)} ${v.vm} ${badge(v)} ${v.phase} epoch ${v.epoch} | ${roles(v)} | ${v.reason}`;
}

/** The compact view, one VM per three lines; `width` cuts long reasons on a terminal. */
export function compactView(vms: readonly LiveVm[], o: { width: number; lastChangeAt: ReadonlyMap<string, Date>; now: Date }): string[] {
  const cut = (s: string): string => (s.length > o.width ? `${s.slice(0, Math.max(0, o.width - 1))}…` : s);
  return vms.flatMap((v) => {
    const since = o.lastChangeAt.get(v.vm);
    const age = since ? ` · last change ${Math.max(0, Math.round((o.now.getTime() - since.getTime()) / 1000))} s ago` : '';
    return [cut(`${v.vm}  ${badge(v)}  ${v.phase}  epoch ${v.epoch}  pause p50 ${p50(v)}${age}`), cut(`  ${roles(v)}`), cut(`  ${v.reason}`)];
  });
}

export class LiveView {
  private readonly seen = new Map<string, string>();
  private readonly lastChangeAt = new Map<string, Date>();
  private viewLines = 0;

  constructor(private readonly out: LiveOut, private readonly width = 120) {}

  show(vms: readonly LiveVm[], now = new Date()): void {
    const changes: string[] = [];
    for (const v of vms) {
      const sig = changeSignature(v);
      if (this.seen.get(v.vm) === sig) continue;
      this.seen.set(v.vm, sig);
      this.lastChangeAt.set(v.vm, now);
      changes.push(changeLine(v, now));
    }
    if (!this.out.isTTY) {
      for (const line of changes) this.out.write(`${line}\n`);
      return;
    }
    // Up to the top of the last view, erase it, print the new change lines, then the view again.
    const erase = this.viewLines > 0 ? `\x1b[${this.viewLines}F\x1b[J` : '';
    const view = compactView(vms, { width: this.width, lastChangeAt: this.lastChangeAt, now });
    this.viewLines = view.length;
    this.out.write(erase + changes.map((l) => `${l}\n`).join('') + view.map((l) => `${l}\n`).join(''));
  }
}
