import { fromPromise } from 'xstate';
import { carryOnAlone, prepareCarryOn } from '../../primary/index.js';
import { prepareTakeover, takeOver } from '../../secondary/index.js';
import { failoverMachine, type ActionOutput, type ClaimOutput, type FailoverRole } from '../../state-machines/index.js';
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
  // The cut started while the lease was being won: the takeover waits for it (QMP order) and repeats it if it failed.
  let preparing: { role: FailoverRole; done: Promise<boolean> } | null = null;
  const prepared = async (role: FailoverRole): Promise<boolean> => {
    const p = preparing;
    preparing = null;
    return p !== null && p.role === role && (await p.done);
  };
  return failoverMachine.provide({
    actors: {
      prepareTakeover: fromPromise<void, { vm: string; role: FailoverRole; cut: boolean }>(async ({ input }) => {
        preparing = null;
        if (!input.cut) return;
        const vm = requireVm();
        // Not cut off when the claim ends: the takeover awaits it instead.
        const steps = input.role === 'secondary' ? prepareTakeover(vm.qmp, h.plan(), call()) : prepareCarryOn(vm.qmp, vm.oob, h.plan(), call());
        const done = steps.then(
          () => true,
          (e: unknown) => (log.warn({ reason: errorMessage(e) }, 'cutting the links to the peer during the claim failed: the takeover repeats it'), false),
        );
        preparing = { role: input.role, done };
        await done;
      }),
      claimLease: fromPromise<ClaimOutput, { vm: string; force: boolean }>(({ input, signal }) => h.side().claimer.claim(input.force, signal)),
      takeOver: fromPromise<ActionOutput, { vm: string; epoch: number }>(async ({ signal }) => {
        const cut = await prepared('secondary');
        assertLease();
        const vm = requireVm();
        const steps = await takeOver(vm.qmp, vm.oob, h.plan(), call(signal), cut);
        log.info({ steps, cutDuringClaim: cut }, 'takeover steps (ms)');
        return { at: Date.now(), steps };
      }),
      carryOnAlone: fromPromise<ActionOutput, { vm: string; epoch: number }>(async ({ signal }) => {
        const cut = await prepared('primary');
        assertLease();
        const vm = requireVm();
        const steps = await carryOnAlone(vm.qmp, vm.oob, h.plan(), call(signal), cut);
        log.info({ steps, cutDuringClaim: cut }, 'carry-on steps (ms)');
        return { at: Date.now(), steps };
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
