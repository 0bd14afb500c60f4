/** Shared harness for the failover machine tests: controllable fake actors on vitest fake timers. */
import { createActor, type Actor } from 'xstate';
import {
  failoverMachine,
  type ActionOutput,
  type ClaimOutput,
  type FailoverEvent,
  type FailoverInput,
  type FailoverPolicy,
  type FailoverRole,
} from '../../../state-machines/failover.js';
import { FAILOVER_PHASE_DEPTH, phaseOf } from '../../../state-machines/status.js';
import { advance, controllable, flush } from './checkpoint-harness.js';

export { advance, flush } from './checkpoint-harness.js';

export const STANDBY_RETRY_MS = 4_000;
export const CLAIM_RETRY_MS = 10;
export const CLAIM_DEADLINE_MS = 100;
export const T0 = 1_700_000_000_000;

/** A rejection that looks like one from shared/errors (the machine branches on `name` only). */
export function namedError(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}
export const lockConflict = () => namedError('LockConflictError', 'compare-and-set on vm1.lease lost to another writer');
export const natsUnavailable = () => namedError('NatsUnavailableError', 'NATS is reconnecting');

export function failoverFakes() {
  return {
    claimLease: controllable<ClaimOutput, { vm: string; force: boolean }>(),
    prepareTakeover: controllable<void, { vm: string; role: FailoverRole; cut: boolean }>(),
    takeOver: controllable<ActionOutput, { vm: string; epoch: number }>(),
    carryOnAlone: controllable<ActionOutput, { vm: string; epoch: number }>(),
    fenceVm: controllable<void, { vm: string }>(),
    releaseLease: controllable<void, { vm: string }>(),
  };
}
export type FailoverFakes = ReturnType<typeof failoverFakes>;

export function failoverInput(role: FailoverRole, policy: FailoverPolicy = 'strict', epoch = 3): FailoverInput {
  return { vm: 'vm1', node: role === 'primary' ? 'alpha' : 'beta', role, policy, epoch, claimRetryMs: CLAIM_RETRY_MS, claimDeadlineMs: CLAIM_DEADLINE_MS, standbyRetryMs: STANDBY_RETRY_MS, actionTimeoutMs: 30_000, promotable: true };
}

export function providedFailover(f: FailoverFakes) {
  return failoverMachine.provide({
    actors: {
      claimLease: f.claimLease.logic,
      prepareTakeover: f.prepareTakeover.logic,
      takeOver: f.takeOver.logic,
      carryOnAlone: f.carryOnAlone.logic,
      fenceVm: f.fenceVm.logic,
      releaseLease: f.releaseLease.logic,
    },
  });
}

export type FailoverActor = Actor<typeof failoverMachine>;

export function startFailover(role: FailoverRole, policy: FailoverPolicy = 'strict', epoch = 3) {
  return startFailoverWith(failoverInput(role, policy, epoch));
}

export function startFailoverWith(input: FailoverInput) {
  const f = failoverFakes();
  const actor = createActor(providedFailover(f), { input });
  // Claim rounds: entries into `claiming` (each may make many compare-and-set attempts until its deadline).
  let rounds = 0;
  let was = '';
  actor.subscribe((snap) => {
    const phase = phaseOf(snap.value, FAILOVER_PHASE_DEPTH);
    if (phase === 'claiming' && was !== 'claiming') rounds++;
    was = phase;
  });
  actor.start();
  const send = (event: FailoverEvent): void => actor.send(event);
  return { actor, f, send, rounds: () => rounds };
}

export const peerLost = (at = T0, reason = 'no heartbeat from alpha for 3012 ms'): FailoverEvent => ({ type: 'PEER_LOST', reason, at });

/** The machine's phase as the status shows it: the claim's retry steps are all `claiming`. */
export const stateOf = (a: FailoverActor): string => phaseOf(a.getSnapshot().value, FAILOVER_PHASE_DEPTH);

/**
 * Fails every compare-and-set attempt of the claim under way until its
 * deadline passed and the machine decided (a forced claim, under the relaxed
 * policy, is left for the test to settle).
 */
export async function failClaim(actor: FailoverActor, f: FailoverFakes, error: () => Error): Promise<void> {
  while (actor.getSnapshot().matches({ claiming: 'attempting' })) {
    f.claimLease.last().reject(error());
    await flush();
    if (actor.getSnapshot().matches({ claiming: 'waiting' })) await advance(CLAIM_RETRY_MS);
  }
}
export const reasonOf = (a: FailoverActor): string => a.getSnapshot().context.reason;
export const tagsOf = (a: FailoverActor): string[] => [...a.getSnapshot().tags].sort();
