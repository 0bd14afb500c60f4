import { fromPromise } from 'xstate';
import { carryOnAlone } from '../../primary/index.js';
import { takeOver } from '../../secondary/index.js';
import { failoverMachine, type ClaimOutput } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { LockConflictError, errorMessage } from '../../shared/errors.js';
import type { Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import type { VmInstance, VmPlan } from '../../shared/qemu/index.js';
import { fenceByPause } from './fence.js';
import type { FailoverSide } from './failover-side.js';
import { qmpCallWithin } from '../../shared/qmp/index.js';

export interface FailoverActorsHost {
  config: Config;
  peerName: string;
  lease: Lease;
  /** The current failover child's lease keeper and claimer. */
  side(): FailoverSide;
  log: Logger;
  plan(): VmPlan;
  vm(): VmInstance | null;
}

/** The failover machine with its effects bound to one VM on this node (the VM machine invokes it). */
export function provideFailover(h: FailoverActorsHost) {
  const { lease, log } = h;
  const call = qmpCallWithin(h.config.timings.qmpTimeoutMs);
  const requireVm = (): VmInstance => {
    const vm = h.vm();
    if (!vm || !vm.proc.isRunning) throw new Error('qemu is not running');
    return vm;
  };
  // Re-check the lease right before a side effect (relaxed policy may act without it, and says so).
  const assertLease = (): void => {
    if (h.config.failover.policy === 'strict' && !lease.isHeldLocally()) throw new LockConflictError(`${h.plan().vm} lease (no longer held locally)`);
  };
  return failoverMachine.provide({
    actors: {
      claimLease: fromPromise<ClaimOutput, { vm: string; force: boolean }>(({ input, signal }) => h.side().claimer.claim(input.force, signal)),
      takeOver: fromPromise<{ at: number }, { vm: string; epoch: number }>(async ({ signal }) => {
        assertLease();
        const vm = requireVm();
        await takeOver(vm.qmp, vm.oob, h.plan(), call(signal));
        return { at: Date.now() };
      }),
      carryOnAlone: fromPromise<{ at: number }, { vm: string; epoch: number }>(async ({ signal }) => {
        assertLease();
        const vm = requireVm();
        await carryOnAlone(vm.qmp, vm.oob, h.plan(), call(signal));
        return { at: Date.now() };
      }),
      fenceVm: fromPromise<void, { vm: string }>(async () => {
        const vm = h.vm();
        if (!vm || !vm.proc.isRunning) return;
        try {
          await fenceByPause(vm);
        } catch (e) {
          // A qemu that cannot be kept paused cannot be trusted to stay quiet: kill it.
          log.error({ reason: errorMessage(e) }, 'cannot keep the VM paused: killing qemu to fence it');
          vm.proc.kill();
        }
      }),
      releaseLease: fromPromise<void, { vm: string }>(async () => {
        h.side().keeper.letGo();
        // Our qemu is gone: the peer may act at once, with the next epoch already in the record.
        await lease.handOver(h.peerName);
        log.info({ to: h.peerName, epoch: lease.epoch }, 'lease handed over');
      }),
    },
  });
}
