import type { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { duplicateJsonKey } from './duplicate-keys.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/**
 * The largest message decoded by default. Every message the project sends is
 * far smaller (a node's status, the largest, is a few KiB); parsing and
 * scanning 1 MB of garbage (nats-server's default max_payload) takes 100-400 ms
 * of the event loop, long enough for a burst of them to silence heartbeats and
 * let a lease run out. Refused before it is read.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/** Requests an agent serves (readiness, drill, rejoin, restore, command, status) are under 1 KiB. */
export const MAX_REQUEST_BYTES = 8 * 1024;

/** Parse and validate a payload; a bad one (or one over maxBytes) becomes a ProtocolError naming the subject and the zod path. */
export function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array, subject: string, maxBytes = MAX_MESSAGE_BYTES): T {
  if (data.length > maxBytes) throw new ProtocolError(subject, `payload of ${data.length} bytes is over the ${maxBytes}-byte limit`);
  let raw: unknown;
  const text = decoder.decode(data);
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ProtocolError(subject, 'payload is not JSON', { cause: e });
  }
  const duplicate = duplicateJsonKey(text);
  if (duplicate !== null) throw new ProtocolError(subject, `duplicate key ${duplicate}`);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
      .join('; ');
    throw new ProtocolError(subject, detail);
  }
  return parsed.data;
}
