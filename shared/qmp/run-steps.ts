import { HmpCommandError, QmpCommandError } from '../errors.js';
import type { QmpCall, QmpClient } from './qmp-client.js';
import type { QmpStep } from './qmp-step.js';

/**
 * The error classes qemu 7.2 answers "not there" with: GenericError (no such
 * child, NBD server not running, COLO not enabled), DeviceNotActive (no such
 * block job), DeviceNotFound (no such yank instance). CommandNotFound is a
 * qemu without the command, never "already so".
 */
const REFUSAL_CLASSES: ReadonlySet<string> = new Set(['GenericError', 'DeviceNotActive', 'DeviceNotFound']);

/** qemu answered and said no, as opposed to a timeout, an abort or a lost connection. */
export function isQemuRefusal(e: unknown): boolean {
  return (e instanceof QmpCommandError && REFUSAL_CLASSES.has(e.errorClass)) || e instanceof HmpCommandError;
}

/** HMP answers errors as text, not as QMP errors: a non-empty reply means it failed. */
export async function hmpStrict(qmp: QmpClient, line: string, call: QmpCall): Promise<void> {
  const out = (await qmp.hmp(line, call)).trim();
  if (out) throw new HmpCommandError(line.split(' ')[0] ?? line, out);
}

async function runStep(qmp: QmpClient, step: QmpStep, call: QmpCall): Promise<void> {
  if ('hmp' in step) return hmpStrict(qmp, step.hmp, call);
  if (step.oob) await qmp.executeOob(step.execute, step.arguments, call);
  else await qmp.execute(step.execute, step.arguments, call);
}

/** Run the steps in order; stops at the first failure, except a refusal on a step for which it means "already so". */
export async function runQmpSteps(qmp: QmpClient, steps: readonly QmpStep[], call: QmpCall): Promise<void> {
  for (const step of steps) {
    try {
      await runStep(qmp, step, call);
    } catch (e) {
      if (step.ifRefused !== 'alreadySo' || !isQemuRefusal(e)) throw e;
    }
  }
}
