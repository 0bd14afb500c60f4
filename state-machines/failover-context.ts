// Pure reads of the failover machine's context: the reasons it gives and what its claim decision keeps.
import { describeError, isErrorKind, LockConflictError } from '../shared/errors.js';
import type { ClaimFailure, FailoverContext, FailoverEvent } from './failover-types.js';

/** Why a secondary's disk cannot be promoted, for the reason. */
export function whyIncomplete(c: FailoverContext): string {
  return c.unreplicatedSinceSync ? 'an audit found a disk not replicating since its last resync' : 'not yet in sync';
}

/** What the claim decision keeps of a failed attempt (context holds data, not error objects). */
export function failureOf(error: unknown): ClaimFailure {
  return { conflict: isErrorKind(error, LockConflictError), text: describeError(error) };
}

export const claimConflict = (c: FailoverContext): boolean => c.claimFailure?.conflict === true;

export const claimText = (c: FailoverContext): string => c.claimFailure?.text ?? 'no claim attempt finished';

/** The context once the lease is won: its epoch, when, and what the node does next. */
export function leaseWon(c: FailoverContext, doing: string): Partial<FailoverContext> {
  const won = c.claimed ?? { epoch: c.epoch, at: Date.now() };
  return { epoch: won.epoch, leaseWonAt: won.at, claimed: null, reason: `lease ${c.role === 'secondary' ? 'won' : 'held'} with epoch ${won.epoch}: ${doing}` };
}

/** Which triggers prove the COLO session over for good, so the links to the peer may be cut before the lease is won. */
export function coloOverBy(event: FailoverEvent): boolean {
  switch (event.type) {
    case 'LOCAL_COLO_FAILED':
    case 'LEASE_HANDED_OVER':
      return true;
    case 'PEER_LOST':
      return event.qemuGone === true;
    default:
      return false;
  }
}
