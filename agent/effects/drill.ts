import { sleep } from '../../shared/sleep.js';
import type { DrillMode } from '../../shared/nats/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import type { Logger } from '../../shared/log.js';
import type { FailoverSide } from './failover-side.js';
import { patternDiskOf, type PatternDisk } from './canary.js';
import { qemuIo } from './qemu-io.js';

/** Drill: the fault the operator asked for, on this side. crash: SIGKILL qemu; hang: SIGSTOP it; partition: go silent. */
export function injectFault(req: { mode: DrillMode | 'heal' }, vm: VmInstance | null, failover: FailoverSide, log: Logger): { mode: string; faultAt: number; epoch: number } {
  const { mode } = req;
  log.warn({ mode }, 'drill: injecting fault');
  const faultAt = Date.now();
  if (mode === 'partition' || mode === 'heal') failover.partition(mode === 'partition');
  else {
    if (!vm || !vm.proc.isRunning) throw new Error('qemu is not running here');
    if (mode === 'crash') vm.proc.kill();
    else vm.proc.freeze();
  }
  return { mode, faultAt, epoch: failover.epoch };
}

/** A drill pattern is at most a few MiB through qemu-io: far below this even under TCG. */
const QEMU_IO_MS = 5_000;
/** Two checkpoints at the longest configurable delay fit well inside this. */
const CHECKPOINT_WAIT_MS = 10_000;
/** The checkpoint count is in memory: reading it often costs nothing. */
const CHECKPOINT_POLL_MS = 5;

interface Pattern {
  byte: number;
  offset: number;
  length: number;
  /** Default: the canary disk. */
  disk?: PatternDisk;
}

function onDisk(index: number, detail: string): string {
  return `disk ${index}: ${detail}`;
}

/** Write a pattern through qemu-io; optionally wait until a checkpoint completed after it (what COLO promises to carry over). */
export async function writePattern(vm: VmInstance, plan: VmPlan, checkpoints: () => number, p: Pattern & { awaitCheckpoint: boolean }) {
  const before = checkpoints();
  const disk = patternDiskOf(plan, p.disk ?? 'canary', true);
  if (typeof disk === 'string') return { ok: false, detail: disk, checkpointCount: before };
  const res = await qemuIo(vm, disk.ids.top, `write -P ${p.byte} ${p.offset} ${p.length}`, QEMU_IO_MS);
  if (!res.ok) return { ok: false, detail: onDisk(disk.index, res.lines.join(' | ')), checkpointCount: before };
  if (p.awaitCheckpoint) {
    // A checkpoint already under way when the write landed may not cover it (the secondary can have
    // emptied its hidden disk before the write arrived): wait for one that started after the write.
    const deadline = Date.now() + CHECKPOINT_WAIT_MS;
    while (checkpoints() <= before + 1) {
      if (Date.now() > deadline) return { ok: false, detail: 'no checkpoint completed after the write', checkpointCount: before };
      await sleep(CHECKPOINT_POLL_MS);
    }
  }
  return { ok: true, detail: onDisk(disk.index, res.lines.join(' | ')), checkpointCount: checkpoints(), disk: disk.index, canary: disk.canary };
}

export async function verifyPattern(vm: VmInstance, plan: VmPlan, p: Pattern) {
  const disk = patternDiskOf(plan, p.disk ?? 'canary', false);
  if (typeof disk === 'string') return { ok: false, detail: disk };
  const res = await qemuIo(vm, disk.ids.top, `read -P ${p.byte} ${p.offset} ${p.length}`, QEMU_IO_MS);
  return { ok: res.ok, detail: onDisk(disk.index, res.lines.join(' | ')), disk: disk.index, canary: disk.canary };
}

/** What the drill and pattern requests need from one VM's runtime. */
export interface DrillHost {
  node: string;
  log: Logger;
  vm(): VmInstance | null;
  requireVm(): VmInstance;
  plan(): VmPlan;
  side(): FailoverSide;
  /** Checkpoints completed so far (the protect child's count). */
  checkpoints(): number;
}

export type DrillHandlers = ReturnType<typeof drillHandlers>;

/** The drill, write-pattern and verify-pattern handlers of one VM. */
export function drillHandlers(h: DrillHost) {
  return {
    drill: (req: Parameters<typeof injectFault>[0]) => ({ ...injectFault(req, h.vm(), h.side(), h.log), node: h.node }),
    /** Test patterns go to the canary disk unless a disk index no guest device sees is named. */
    writePattern: (byte: number, offset: number, length: number, awaitCheckpoint: boolean, disk?: PatternDisk) =>
      writePattern(h.requireVm(), h.plan(), h.checkpoints, { byte, offset, length, awaitCheckpoint, disk }),
    verifyPattern: (byte: number, offset: number, length: number, disk?: PatternDisk) => verifyPattern(h.requireVm(), h.plan(), { byte, offset, length, disk }),
  };
}
