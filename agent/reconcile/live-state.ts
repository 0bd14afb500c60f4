import type { LiveQemu } from '../../state-machines/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { VmInstance } from '../../shared/qemu/index.js';
import { queryColoStatus, queryObjectIds, queryStatus, type QmpEvent } from '../../shared/qmp/index.js';
import { TLS_IDS } from '../../shared/tls/index.js';

/** A status read that takes longer than this says nothing useful: the next read (the feed's steady beat, 2 s) tries again; the watchdog counts it as unhealthy. */
const LIVE_READ_MS = 1_000;

/** What qemu last said about itself: when qemu runs, this beats the config. */
export class LiveState {
  value: LiveQemu;

  constructor(qmpSocket: string) {
    this.value = { qemuPid: null, qmpSocket, runState: null, coloMode: null, dataTls: null };
  }

  reset(qmpSocket: string): void {
    this.value = { qemuPid: null, qmpSocket, runState: null, coloMode: null, dataTls: null };
  }

  started(pid: number, qmpSocket: string): void {
    this.value = { ...this.value, qmpSocket, qemuPid: pid, dataTls: null };
  }

  gone(): void {
    this.value = { ...this.value, qemuPid: null, runState: null, coloMode: null, dataTls: null };
  }

  event(e: QmpEvent): void {
    if (e.event === 'STOP' || e.event === 'RESUME') this.value = { ...this.value, runState: e.event === 'STOP' ? 'paused' : 'running' };
  }

  static kill(vm: VmInstance): void {
    try {
      vm.proc.kill();
    } catch {
      // already gone
    }
  }

  /** True when there is no running qemu to ask, or it answers its monitor. */
  static async answers(vm: VmInstance | null): Promise<boolean> {
    if (!vm || !vm.proc.isRunning) return true;
    return vm.qmp.execute('query-status', undefined, { timeoutMs: LIVE_READ_MS }).then(
      () => true,
      () => false,
    );
  }

  /** Read run state and COLO mode; ignored if `vm` is no longer the current one when the answer comes. */
  async refresh(vm: VmInstance | null, isCurrent: (vm: VmInstance) => boolean, log: Logger): Promise<void> {
    if (!vm || !vm.proc.isRunning) return;
    try {
      // Its objects come from its command line and never change: read once per qemu.
      const objects = this.value.dataTls === null ? queryObjectIds(vm.qmp, { timeoutMs: LIVE_READ_MS }) : null;
      const [st, colo, ids] = await Promise.all([queryStatus(vm.qmp, { timeoutMs: LIVE_READ_MS }), queryColoStatus(vm.qmp, { timeoutMs: LIVE_READ_MS }), objects]);
      if (isCurrent(vm) && vm.proc.isRunning) {
        this.value = { ...this.value, runState: st.status, coloMode: colo.mode, dataTls: ids ? ids.includes(TLS_IDS.server) && ids.includes(TLS_IDS.client) : this.value.dataTls };
      }
    } catch (e) {
      log.debug({ reason: errorMessage(e) }, 'live state read failed');
    }
  }
}
