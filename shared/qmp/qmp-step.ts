/**
 * One monitor command as data, so device and role sequences are pure lists a
 * test can compare and one executor (run-steps.ts) can run.
 */

/**
 * What a refusal from qemu means for this step. `fail` (the default): the step
 * failed. `alreadySo`: the goal already holds (no such job, child or node, not
 * in COLO), so the sequence carries on. Timeouts and lost connections fail either way.
 */
export type RefusalMeaning = 'fail' | 'alreadySo';

export interface QmpCommandStep {
  execute: string;
  arguments?: Record<string, unknown>;
  /** Sent as `exec-oob` (yank), on a monitor that negotiated OOB. */
  oob?: true;
  ifRefused?: RefusalMeaning;
}

/** An HMP line (drive_add, drive_del have no QMP form in 7.2); any text in the reply is a refusal. */
export interface HmpStep {
  hmp: string;
  ifRefused?: RefusalMeaning;
}

export type QmpStep = QmpCommandStep | HmpStep;

export type YankInstance = { type: 'block-node'; 'node-name': string } | { type: 'chardev'; id: string } | { type: 'migration' };

/** Cut links out-of-band; an instance already gone is what we wanted. */
export function yankStep(instances: readonly YankInstance[]): QmpCommandStep {
  return { execute: 'yank', arguments: { instances }, oob: true, ifRefused: 'alreadySo' };
}

/**
 * One yank per instance: qemu refuses a whole yank when any one instance is
 * unknown (a NIC chardev already removed, a link never made) and then cuts
 * none, so each goes alone and each "not found" is what we wanted.
 */
export function yankSteps(instances: readonly YankInstance[]): QmpCommandStep[] {
  return instances.map((i) => yankStep([i]));
}
