/** The VM machine with its real children (protect, failover, restore), every effect a controllable fake. */
import { createActor, type Actor, type AnyActorRef } from 'xstate';
import { checkpointMachine } from '../../../state-machines/checkpoint.js';
import { failoverMachine } from '../../../state-machines/failover.js';
import { restoreMachine, type ResyncProgress } from '../../../state-machines/restore.js';
import { vmMachine, type ReconcileOutput, type VmInput } from '../../../state-machines/vm.js';
import type { PeerEndpoints } from '../../../state-machines/checkpoint.js';
import { controllable, fakes as protectFakes } from './checkpoint-harness.js';
import { failoverFakes } from './failover-harness.js';

export { advance, flush, PEER } from './checkpoint-harness.js';

export const VM_INPUT: VmInput = {
  vm: 'vm1',
  node: 'beta',
  peer: 'alpha',
  autoRestore: true,
  policy: 'strict',
  assumeIdentical: false,
  timings: { protectTimeoutMs: 5_000, stallBoundMs: 1_000, protectRetryMs: 2_000, standbyRetryMs: 4_000, actionTimeoutMs: 30_000, restoreRetryBaseMs: 1_000, restoreRetryMaxMs: 8_000 },
};

export function restoreFakes() {
  return {
    requestRejoin: controllable<void, { vm: string; peer: string }>(),
    awaitPeerReady: controllable<PeerEndpoints, { vm: string }>(),
    resync: controllable<void, { vm: string; peer: PeerEndpoints }>(),
    switchOver: controllable<{ pauseMs: number }, { vm: string; peer: PeerEndpoints }>(),
    migrateIntoColo: controllable<void, { vm: string; peer: PeerEndpoints }>(),
    cleanUp: controllable<void, { vm: string }>(),
  };
}

type Fakes<T> = Record<string, { logic: unknown }> & T;
const logicOf = <T extends Record<string, { logic: unknown }>>(f: T) => Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v.logic])) as never;

export function startVm(input: Partial<VmInput> = {}) {
  const f = {
    reconcile: controllable<ReconcileOutput, { vm: string }>(),
    resetForRejoin: controllable<void, { vm: string }>(),
    reclaimLease: controllable<void, { vm: string }>(),
    protect: protectFakes() as Fakes<ReturnType<typeof protectFakes>>,
    failover: failoverFakes() as Fakes<ReturnType<typeof failoverFakes>>,
    restore: restoreFakes() as Fakes<ReturnType<typeof restoreFakes>>,
  };
  const machine = vmMachine.provide({
    actors: {
      reconcile: f.reconcile.logic,
      resetForRejoin: f.resetForRejoin.logic,
      reclaimLease: f.reclaimLease.logic,
      protect: checkpointMachine.provide({ actors: logicOf(f.protect) }),
      failover: failoverMachine.provide({ actors: logicOf(f.failover) }),
      restore: restoreMachine.provide({ actors: logicOf(f.restore) }),
    },
  });
  const actor = createActor(machine, { input: { ...VM_INPUT, ...input } });
  actor.start();
  return { actor, f };
}

export type VmActor = Actor<typeof vmMachine>;

const child = (a: VmActor, id: string) => (a.getSnapshot().children as Record<string, AnyActorRef | undefined>)[id];
export const protectOf = (a: VmActor) => child(a, 'protect')?.getSnapshot() as ReturnType<Actor<typeof checkpointMachine>['getSnapshot']> | undefined;
export const failoverOf = (a: VmActor) => child(a, 'failover')?.getSnapshot() as ReturnType<Actor<typeof failoverMachine>['getSnapshot']> | undefined;
export const restoreOf = (a: VmActor) => child(a, 'restore')?.getSnapshot() as ReturnType<Actor<typeof restoreMachine>['getSnapshot']> | undefined;
export const roleOf = (a: VmActor) => a.getSnapshot().context.role;

export const PROGRESS: ResyncProgress = { bytesDone: 1, bytesTotal: 1, rateBytesPerSec: 1, etaMs: 0 };
