import { errorMessage } from '../../shared/errors.js';
import type { Unsubscribe } from '../../shared/nats/index.js';
import type { VmInstance } from '../../shared/qemu/index.js';
import type { QmpEvent } from '../../shared/qmp/index.js';
import { LiveState } from '../reconcile/live-state.js';
import { coloEventTranslator, quorumWriteFailure, type ColoSignal } from './qmp-events.js';

/** Where the facts one qemu gives off go: the machines' events, the audit, the live view. */
export interface QemuSignalSinks {
  /** False once this qemu is no longer the VM's current one (replaced, or the agent stops): its facts are dropped. */
  isCurrent(): boolean;
  checkpoint(signal: ColoSignal): void;
  coloFailed(reason: string): void;
  writeFailure(node: string, detail: string, atMs: number): void;
  liveEvent(e: QmpEvent): void;
  /** The monitor closed while the process may still be dying. */
  monitorLost(reason: string): void;
  /** The process was reaped, with why. */
  exited(reason: string): void;
}

/** Turn one qemu's QMP events, monitor loss and exit into machine events. */
export function watchQemuSignals(vm: VmInstance, sinks: QemuSignalSinks): Unsubscribe {
  const translate = coloEventTranslator();
  const unsubscribe = vm.qmp.onEvent((e) => {
    if (!sinks.isCurrent()) return;
    const signal = translate(e);
    // The failover side first: its claim is on the clock, the checkpoint machine's bookkeeping is not.
    if (e.event === 'COLO_EXIT' && e.data.reason === 'error') sinks.coloFailed(signal?.type === 'COLO_EXITED' ? signal.reason : 'COLO_EXIT');
    if (signal) sinks.checkpoint(signal);
    const lost = quorumWriteFailure(e);
    if (lost) sinks.writeFailure(lost.node, lost.detail, lost.atMs);
    sinks.liveEvent(e);
  });
  // The monitor closes as qemu dies, well before the exit is reaped; a qemu still alive without its monitor can no longer be fenced, so it is killed.
  void vm.qmp.closed.then(() => {
    if (!sinks.isCurrent()) return;
    if (vm.proc.isRunning) LiveState.kill(vm);
    const last = vm.proc.outputTail().slice(-3);
    sinks.monitorLost(`qemu closed its monitor (process dying)${last.length ? `; its log ends: ${last.join(' | ')}` : ''}`);
  });
  void vm.proc.exited.then(() => {
    if (!sinks.isCurrent()) return;
    sinks.exited(errorMessage(vm.proc.exitError()));
  });
  return unsubscribe;
}
