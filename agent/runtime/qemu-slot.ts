import type { VmEvent } from '../../state-machines/index.js';
import type { Logger } from '../../shared/log.js';
import type { Unsubscribe } from '../../shared/nats/index.js';
import type { VmInstance } from '../../shared/qemu/index.js';
import type { FailoverSide } from '../effects/failover-side.js';
import type { LiveState } from '../reconcile/live-state.js';
import type { NicLive } from '../reconcile/nic-live.js';
import { QemuLiveness } from '../signals/qemu-liveness.js';
import { watchQemuSignals } from '../signals/qemu-signals.js';
import type { ReplicationWatch } from '../signals/replication-watch.js';

/** Where the facts of this VM's qemu go: the VM machine, the failover side, the replication audit, the live state. */
export interface QemuSlotSinks {
  log: Logger;
  timings: { heartbeatIntervalMs: number; heartbeatTimeoutMs: number };
  send(event: VmEvent): void;
  side(): FailoverSide | null;
  audit: ReplicationWatch;
  live: LiveState;
  nics: NicLive;
  stopping(): boolean;
}

/** The one qemu this node runs for the VM, if any: attached with its signals and watched for hangs. */
export class QemuSlot {
  private current: VmInstance | null = null;
  private readonly liveness: QemuLiveness;

  constructor(private readonly s: QemuSlotSinks) {
    this.liveness = QemuLiveness.killingWhenHung(s.timings, s.log);
  }

  get vm(): VmInstance | null {
    return this.current;
  }

  require(): VmInstance {
    if (!this.current || !this.current.proc.isRunning) throw new Error('qemu is not running');
    return this.current;
  }

  /** A launched or adopted qemu: its events, exit and monitor loss become machine events from here on. Returns the unsubscribe. */
  attach(vm: VmInstance, qmpSocket: string): Unsubscribe {
    const { s } = this;
    this.current = vm;
    s.live.started(vm.proc.pid, qmpSocket);
    s.nics.started();
    s.side()?.qemuStarted();
    this.liveness.watch(vm);
    return watchQemuSignals(vm, {
      isCurrent: () => !s.stopping() && this.current === vm,
      checkpoint: (signal) => s.send(signal),
      coloFailed: (reason) => s.side()?.coloFailed(reason),
      writeFailure: (node, detail, atMs) => s.audit.noteWriteFailure(node, detail, atMs),
      liveEvent: (e) => {
        s.live.event(e);
        s.nics.event(e);
      },
      monitorLost: (reason) => s.side()?.qemuGone(reason),
      exited: (reason) => {
        s.live.gone();
        s.side()?.qemuGone(reason);
        s.send({ type: 'QEMU_EXITED', reason });
      },
    });
  }

  /** Give up this qemu (rejoin as a fresh secondary): stop watching, then stop it within `graceMs`. */
  async release(graceMs: number): Promise<void> {
    this.liveness.stop();
    const old = this.current;
    this.current = null;
    await old?.stop(graceMs);
  }

  /** Agent shutdown: stop qemu, or leave it running for the next agent to adopt (monitors closed, nothing changed). */
  async shutdown(stopVm: boolean): Promise<void> {
    this.liveness.stop();
    if (stopVm) await this.current?.stop();
    else await Promise.all([this.current?.qmp.close(), this.current?.oob.close()]);
  }
}
