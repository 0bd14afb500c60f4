import { closeSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import {
  compareTracePath,
  emptyTally,
  isNicDevice,
  nicProxyState,
  parseCompareTrace,
  tallyCompare,
  type CheckpointStart,
  type CompareTally,
  type CompareTraceLine,
  type NicDevice,
} from '../../shared/nic/index.js';
import type { NicStatus } from '../../shared/nats/index.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import { queryIothreads, queryObjectIds, type QmpEvent } from '../../shared/qmp/index.js';
import { eventTimeMs } from '../signals/qmp-events.js';

const READ_MS = 1_000;
/** A STOP this close to the read may still have its miscompare line on the way: counted at the next read. */
const SETTLE_MS = 50;
const CHUNK_BYTES = 1 << 20;

/**
 * Each NIC's proxy as qemu holds it (`qom-list /objects`) and colo-compare's
 * figures, read from the qemu's trace log as it grows (compare-trace.ts).
 * The log is rotated through qemu itself (HMP `logfile`) so it never grows
 * past `rotateAtBytes`. Figures count from when this agent attached the qemu.
 */
export class NicLive {
  /** The log size at which it is handed to a fresh file; a test lowers it. */
  static rotateAtBytes = 8 * 1024 * 1024;

  private nics: NicStatus[] = [];
  private tally: CompareTally = emptyTally();
  private offset = 0;
  private rest = '';
  private stops: CheckpointStart[] = [];
  private heldLines: CompareTraceLine[] = [];
  private lastResumeAt: number | null = null;
  private threads = new Map<number, number>();
  private traced = false;
  private reading: Promise<void> = Promise.resolve();

  /** A new qemu: nothing of the old one's figures carries over; its log is read from the start. */
  started(): void {
    this.tally = emptyTally();
    this.offset = 0;
    this.rest = '';
    this.stops = [];
    this.heldLines = [];
    this.lastResumeAt = null;
    this.threads = new Map();
    this.traced = false;
  }

  event(e: QmpEvent): void {
    const at = eventTimeMs(e);
    if (e.event === 'STOP') this.stops.push({ at, previousResumeAt: this.lastResumeAt });
    if (e.event === 'RESUME') this.lastResumeAt = at;
    if (this.stops.length > 10_000) this.stops.splice(0, this.stops.length - 10_000);
  }

  get value(): NicStatus[] {
    return this.nics;
  }

  /** One read at a time: two reading the log from the same offset would count its lines twice. */
  refresh(vm: VmInstance | null, plan: VmPlan | null, log: Logger): Promise<void> {
    const run = this.reading.then(() => this.read(vm, plan, log));
    this.reading = run.catch(() => undefined);
    return run;
  }

  private async read(vm: VmInstance | null, plan: VmPlan | null, log: Logger): Promise<void> {
    const devices = plan ? plan.devices.filter(isNicDevice) : [];
    if (!plan || devices.length === 0) return void (this.nics = []);
    if (!vm || !vm.proc.isRunning) return void (this.nics = devices.map((d) => this.view(d, null, [])));
    try {
      const objectIds = new Set(await queryObjectIds(vm.qmp, { timeoutMs: READ_MS }));
      if (devices.some((d) => objectIds.has(d.plan.ids.primary.iothread))) await this.mapThreads(vm, devices);
      await this.readTrace(vm, plan, devices.filter((d) => d.replicated), devices.filter((d) => objectIds.has(d.plan.ids.primary.compare)));
      this.nics = devices.map((d) => {
        const { state, objects } = nicProxyState(d.plan.ids, objectIds);
        return this.view(d, state, objects);
      });
    } catch (e) {
      log.debug({ reason: errorMessage(e) }, 'NIC state read failed');
    }
  }

  private view(d: NicDevice, proxy: NicStatus['proxy'], objects: string[]): NicStatus {
    const counts = this.tally.counts.get(d.index);
    const figures = counts ?? (proxy === 'primary' && this.traced ? { packetsCompared: 0, miscompares: 0, miscompareCheckpoints: 0 } : null);
    return {
      index: d.index,
      netdev: d.plan.ids.netdev,
      mac: d.plan.nic.mac,
      proxied: d.replicated,
      proxy,
      objects,
      packetsCompared: figures?.packetsCompared ?? null,
      miscompares: figures?.miscompares ?? null,
      miscompareCheckpoints: figures?.miscompareCheckpoints ?? null,
    };
  }

  private async mapThreads(vm: VmInstance, devices: NicDevice[]): Promise<void> {
    const byId = new Map(devices.map((d) => [d.plan.ids.primary.iothread, d.index]));
    for (const t of await queryIothreads(vm.qmp, { timeoutMs: READ_MS })) {
      const nic = byId.get(t.id);
      if (nic !== undefined) this.threads.set(t.threadId, nic);
    }
  }

  private async readTrace(vm: VmInstance, plan: VmPlan, proxied: NicDevice[], comparing: NicDevice[]): Promise<void> {
    if (proxied.length === 0) return;
    const path = compareTracePath(plan.runDir);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return; // a qemu started without the trace (before this version): no figures
    }
    this.traced = true;
    if (size < this.offset) this.offset = 0;
    if (size >= NicLive.rotateAtBytes) {
      const old = `${path}.1`;
      renameSync(path, old);
      // qemu reopens the name it was given (appending): a fresh file from here on. Until it has, it
      // still writes to the renamed one, which is therefore read only after the answer.
      await vm.qmp.hmp(`logfile ${path}`, { timeoutMs: READ_MS }).catch(() => undefined);
      this.consume(old, plan, proxied, comparing);
      rmSync(old, { force: true });
      this.offset = 0;
      return;
    }
    this.consume(path, plan, proxied, comparing);
  }

  private consume(path: string, plan: VmPlan, proxied: NicDevice[], comparing: NicDevice[]): void {
    const cutoff = Date.now() - SETTLE_MS;
    const fd = openSync(path, 'r');
    const lines: CompareTraceLine[] = [];
    try {
      const buf = Buffer.alloc(CHUNK_BYTES);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const parsed = parseCompareTrace(this.rest + buf.subarray(0, n).toString('latin1'));
        this.rest = parsed.rest.length > 4096 ? '' : parsed.rest;
        lines.push(...parsed.lines);
      }
    } finally {
      closeSync(fd);
    }
    // Only what is older than the cutoff is folded, in one time order: a checkpoint's miscompare may still be on its way.
    const held = [...this.heldLines, ...lines];
    this.heldLines = held.filter((l) => l.at >= cutoff);
    const due = this.stops.filter((s) => s.at < cutoff);
    this.stops = this.stops.filter((s) => s.at >= cutoff);
    this.fold(held.filter((l) => l.at < cutoff), due, plan, proxied, comparing);
  }

  private fold(lines: CompareTraceLine[], stops: CheckpointStart[], plan: VmPlan, proxied: NicDevice[], comparing: NicDevice[]): void {
    if (lines.length === 0 && stops.length === 0) return;
    this.tally = tallyCompare(this.tally, lines, stops, {
      nicOfThread: (t) => this.threads.get(t),
      checkpointDelayMs: plan.checkpointDelayMs,
      // An early checkpoint is colo-compare's only where one runs: a secondary's checkpoints are the primary's choice.
      soleNic: proxied.length === 1 && comparing.length === 1 ? comparing[0]!.index : undefined,
    });
  }
}
