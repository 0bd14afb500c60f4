import type { z } from 'zod';
import { ProtocolError } from '../errors.js';
import { duplicateJsonKey } from './duplicate-keys.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parse and validate a payload; a bad one becomes a ProtocolError naming the subject and the zod path. */
export function decodeWith<T>(schema: z.ZodType<T>, data: Uint8Array, subject: string): T {
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
