import { createActor, type Actor, type SnapshotFrom } from 'xstate';
import { stallBoundMs, type checkpointMachine, type TransitionRecord } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { VmPlan } from '../../shared/qemu/index.js';
import { provideCheckpoint, type CheckpointHost } from '../effects/protect.js';
import { followTransitions } from './transitions.js';

/** The first retry of a failed protection (it doubles from here): long enough for a clean-up to settle, short enough not to leave the VM unprotected. */
const PROTECT_RETRY_BASE_MS = 2_000;

export type ProtectActor = Actor<typeof checkpointMachine>;

export interface ProtectStart {
  config: Config;
  node: string;
  plan: VmPlan;
  log: Logger;
  /** Watch a COLO that already runs (restored, adopted) instead of protecting from scratch. */
  resumeColo: boolean;
  resumeReason?: string;
  /** Adopted a qemu outside COLO: hands off. */
  holdAdopted: boolean;
  onTransition(record: TransitionRecord, snapshot: SnapshotFrom<typeof checkpointMachine>): void;
}

/**
 * The checkpoint machine of one VM with its effects; each transition is logged once, then handed on.
 * Not started: the caller keeps the actor before starting it, as the first transitions already reach for it.
 */
export function createProtectActor(host: CheckpointHost, o: ProtectStart): { actor: ProtectActor; unsubscribe(): void } {
  const t = o.config.timings;
  const actor = createActor(provideCheckpoint(host), {
    input: {
      vm: o.plan.vm,
      node: o.node,
      role: o.plan.role,
      protectTimeoutMs: t.protectTimeoutMs,
      stallBoundMs: stallBoundMs(o.plan.checkpointDelayMs),
      retryDelayMs: PROTECT_RETRY_BASE_MS,
      resumeColo: o.resumeColo,
      resumeReason: o.resumeReason,
      holdAdopted: o.holdAdopted,
      assumeIdentical: o.plan.assumeIdentical,
    },
  });
  const sub = followTransitions(
    actor,
    (record, snap) => {
      o.log[snap.hasTag('degraded') ? 'warn' : 'info']({ machine: 'checkpoint', role: o.plan.role, from: record.from, to: record.to, reason: record.reason }, 'transition');
      o.onTransition(record, snap);
    },
    (e) => o.log.error({ reason: errorMessage(e) }, 'checkpoint machine crashed'),
  );
  return { actor, unsubscribe: () => sub.unsubscribe() };
}
