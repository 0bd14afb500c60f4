import type { Logger } from '../../shared/log.js';
import type { VmInstance } from '../../shared/qemu/index.js';
import { onPeriod } from './period-clock.js';

/**
 * A probe may take a third of the heartbeat timeout, so a hung qemu is found
 * and killed before the peer's timeout runs out (worst case: a line heard just
 * before the hang skips one probe, then interval + probe + OOB probe: 100 + 166
 * + 100 + 100 = 466 ms against 500 at the defaults); a floor keeps a tiny test
 * timeout from killing a busy qemu.
 */
const PROBES_PER_HEARTBEAT_TIMEOUT = 3;
const MIN_PROBE_MS = 100;

/**
 * Notices a hung qemu (a SIGSTOPped or wedged process keeps its sockets open,
 * so nothing closes). The main monitor not answering is not enough: a qemu
 * blocked on a dead NBD peer still answers out-of-band; only when the OOB
 * monitor is silent too is qemu declared hung.
 */
export class QemuLiveness {
  /** Ticks on the clock of the heartbeat's beat (the same period): one wake-up for both. */
  private stopTicks: (() => void) | null = null;
  private probing = false;

  constructor(
    private readonly o: { intervalMs: number; timeoutMs: number; oobTimeoutMs: number; log: Logger; onHung: (vm: VmInstance, reason: string) => void },
  ) {}

  /** A frozen qemu must never wake up as a second live copy: it is killed, and failover proceeds as for a crash. */
  static killingWhenHung(t: { heartbeatIntervalMs: number; heartbeatTimeoutMs: number }, log: Logger): QemuLiveness {
    return new QemuLiveness({
      intervalMs: t.heartbeatIntervalMs,
      timeoutMs: Math.max(MIN_PROBE_MS, Math.floor(t.heartbeatTimeoutMs / PROBES_PER_HEARTBEAT_TIMEOUT)),
      oobTimeoutMs: MIN_PROBE_MS,
      log,
      onHung: (vm, reason) => {
        log.error({ reason }, 'qemu hung: killing it');
        try {
          vm.proc.kill();
        } catch {
          // already gone
        }
      },
    });
  }

  watch(vm: VmInstance): void {
    this.stop();
    const stopTicks = onPeriod(this.o.intervalMs, () => void this.probe(vm));
    this.stopTicks = stopTicks;
    void vm.proc.exited.then(() => {
      if (this.stopTicks === stopTicks) this.stop();
    });
  }

  private async probe(vm: VmInstance): Promise<void> {
    if (this.probing || !vm.proc.isRunning) return;
    // qemu wrote on its main monitor within the interval (a checkpoint's STOP/RESUME, a reply): its main
    // loop ran then, so no probe is needed; a hung qemu writes nothing and is probed at once.
    const heard = vm.qmp.lastHeardAt;
    if (heard !== undefined && performance.now() - heard < this.o.intervalMs) return;
    this.probing = true;
    try {
      await vm.qmp.execute('query-status', undefined, { timeoutMs: this.o.timeoutMs });
    } catch {
      // A closed monitor means qemu is dying (its exit is handled elsewhere), not hung.
      if (!vm.proc.isRunning || !vm.qmp.isOpen) return;
      try {
        await vm.oob.executeOob('yank', { instances: [] }, { timeoutMs: this.o.oobTimeoutMs });
        this.o.log.warn('qemu main monitor slow but out-of-band monitor answers: not hung');
      } catch {
        if (vm.proc.isRunning) this.o.onHung(vm, `qemu answered neither monitor within ${this.o.timeoutMs + this.o.oobTimeoutMs} ms`);
      }
    } finally {
      this.probing = false;
    }
  }

  stop(): void {
    this.stopTicks?.();
    this.stopTicks = null;
  }
}
