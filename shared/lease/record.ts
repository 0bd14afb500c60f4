import { z } from 'zod';
import { errorMessage } from '../errors.js';
import { decodeWith } from '../nats/index.js';

/**
 * One value of the lease key. nats-server 2.9 has no per-key TTL, so the value
 * carries its own expiry; the epoch only grows when the holder changes.
 */
export interface LeaseRecord {
  holder: string | null;
  epoch: number;
  /** Wall clock, ms since the epoch: only other nodes judge by it. */
  expiresAtMs: number;
  /** Random per write: recognises our own write after a timeout. */
  nonce: string;
}

export const leaseRecordSchema: z.ZodType<LeaseRecord> = z
  .object({
    holder: z.string().min(1).nullable(),
    epoch: z.number().int().positive(),
    expiresAtMs: z.number().nonnegative(),
    nonce: z.string().min(1),
  })
  .strict();

/**
 * Pure: what overwrote the holder's record, when it is no takeover; null when
 * it is one. Every legitimate write by another node (a claim after expiry or
 * release, a forced claim, a hand-over by the holder) carries a higher epoch
 * than the one held. A value that is not a lease record, a record without a
 * higher epoch, or a deleted key is something else (a stray or hostile
 * client): nobody can have acted on it, so the holder may write its own
 * record back while its deadline holds.
 */
export function notATakeover(value: Uint8Array | null, key: string, heldEpoch: number): string | null {
  if (value === null) return 'the key was deleted';
  let record: LeaseRecord;
  try {
    record = decodeWith(leaseRecordSchema, value, key);
  } catch (e) {
    return `not a lease record (${errorMessage(e)})`;
  }
  if (record.epoch > heldEpoch) return null;
  return `a record of ${record.holder ?? 'no holder'} at epoch ${record.epoch}, not above the held ${heldEpoch}`;
}
