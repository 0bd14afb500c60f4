/**
 * What colo-compare did, read from qemu's own trace: QEMU 7.2 exposes no
 * counter on the object (no QOM property, no QMP event), but its
 * `colo_compare_main` trace event marks every comparison and every packet
 * that differed. With `-msg timestamp=on` each line of the `-D` log starts
 * with the writing thread's id and the host time, and each NIC's
 * colo-compare runs in its own iothread, so `query-iothreads` tells whose
 * line it is. Pure: parsing and counting only.
 */
export const COMPARE_TRACE_EVENTS = ['colo_compare_main', 'colo_compare_tcp_info'] as const;

export function compareTracePath(runDir: string): string {
  // Plain data here (no node built-ins in a device kind): run dirs are absolute POSIX paths.
  return `${runDir.replace(/\/+$/, '')}/compare-trace.log`;
}

/** The qemu argv that makes colo-compare's trace readable: per-line thread id and time, to a file of the VM's. */
export function compareTraceArgs(runDir: string): string[] {
  return ['-msg', 'timestamp=on', '-D', compareTracePath(runDir), ...COMPARE_TRACE_EVENTS.flatMap((e) => ['-trace', `enable=${e}`])];
}

export type CompareTraceKind = 'compared' | 'different' | 'other';

export interface CompareTraceLine {
  threadId: number;
  /** Host wall-clock ms, as qemu's QMP event timestamps. */
  at: number;
  kind: CompareTraceKind;
}

const LINE_RE = /^(\d+)@(\d+)\.(\d{6}):(colo_compare_main|colo_compare_tcp_info) (.*)$/;

/**
 * What 7.2 traces (seen on this machine): `compare udp|icmp|other` opens one
 * comparison of a primary packet with a secondary one and `packet
 * different` ends one that failed, each of which asks COLO for a
 * checkpoint; a TCP segment pair that matched is one `colo_compare_tcp_info`
 * line per side (`pri`, `sec`). A TCP mismatch is not traced at all.
 */
export function classifyCompareLine(event: string, rest: string): CompareTraceKind {
  if (event === 'colo_compare_tcp_info') return /^pri\b/.test(rest) ? 'compared' : 'other';
  const message = rest.replace(/^[^:]*: ?/, '');
  if (message === 'packet different') return 'different';
  if (/^compare (udp|icmp|other)$/.test(message)) return 'compared';
  return 'other';
}

/** The complete lines of a chunk of the log; a line still being written stays for the next read. */
export function parseCompareTrace(chunk: string): { lines: CompareTraceLine[]; rest: string } {
  const end = chunk.lastIndexOf('\n');
  const rest = chunk.slice(end + 1);
  const lines: CompareTraceLine[] = [];
  for (const raw of chunk.slice(0, end + 1).split('\n')) {
    const m = LINE_RE.exec(raw);
    if (!m) continue;
    lines.push({ threadId: Number(m[1]), at: Number(m[2]) * 1000 + Number(m[3]) / 1000, kind: classifyCompareLine(m[4]!, m[5]!) });
  }
  return { lines, rest };
}

export interface NicCompareCounts {
  packetsCompared: number;
  miscompares: number;
  /** Checkpoints this NIC's colo-compare asked for: begun after its miscompare, or early with no other NIC to blame. */
  miscompareCheckpoints: number;
}

/** A checkpoint as qemu's events date it: STOP, and the RESUME of the one before (null for the first). */
export interface CheckpointStart {
  at: number;
  previousResumeAt: number | null;
}

export interface CompareTally {
  counts: ReadonlyMap<number, NicCompareCounts>;
  /** NICs with a miscompare not yet followed by a checkpoint. */
  pending: ReadonlySet<number>;
}

export const emptyTally = (): CompareTally => ({ counts: new Map(), pending: new Set() });

export interface TallyContext {
  /** An iothread's thread id to its NIC index; a line of an unknown thread is not counted. */
  nicOfThread(threadId: number): number | undefined;
  /** The VM's x-checkpoint-delay: a checkpoint sooner than this after the last one was asked for. */
  checkpointDelayMs: number;
  /** The only proxied NIC, if there is one: an early checkpoint with no traced miscompare is its (TCP, or a packet the secondary never sent). */
  soleNic: number | undefined;
}

/** Early by more than this share of the delay: qemu's periodic timer cannot have fired it. */
const EARLY_SHARE = 0.8;

const zero = (): NicCompareCounts => ({ packetsCompared: 0, miscompares: 0, miscompareCheckpoints: 0 });

/** Fold trace lines and checkpoint starts, merged in time order, into per-NIC counts. */
export function tallyCompare(tally: CompareTally, lines: readonly CompareTraceLine[], checkpoints: readonly CheckpointStart[], ctx: TallyContext): CompareTally {
  const counts = new Map(tally.counts);
  const pending = new Set(tally.pending);
  const bump = (nic: number, key: keyof NicCompareCounts): void => {
    const c = counts.get(nic) ?? zero();
    counts.set(nic, { ...c, [key]: c[key] + 1 });
  };
  type Item = { at: number; line?: CompareTraceLine; checkpoint?: CheckpointStart };
  const items: Item[] = [...lines.map((line) => ({ at: line.at, line })), ...checkpoints.map((checkpoint) => ({ at: checkpoint.at, checkpoint }))];
  // Stable: at equal times a line goes first, as qemu logs a miscompare before it notifies.
  items.sort((a, b) => a.at - b.at);
  for (const item of items) {
    if (item.checkpoint) {
      const c = item.checkpoint;
      const early = c.previousResumeAt !== null && c.at - c.previousResumeAt < ctx.checkpointDelayMs * EARLY_SHARE;
      if (pending.size === 0 && early && ctx.soleNic !== undefined) pending.add(ctx.soleNic);
      for (const nic of pending) bump(nic, 'miscompareCheckpoints');
      pending.clear();
      continue;
    }
    const line = item.line!;
    const nic = ctx.nicOfThread(line.threadId);
    if (nic === undefined) continue;
    if (line.kind === 'compared') bump(nic, 'packetsCompared');
    if (line.kind === 'different') {
      bump(nic, 'miscompares');
      pending.add(nic);
    }
  }
  return { counts, pending };
}
