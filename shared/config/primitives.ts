import { z } from 'zod';

/** Field types shared by the config schema's parts. */
const NAME_RE = /^[a-z0-9-]+$/;
export const name = z.string().regex(NAME_RE, 'must match [a-z0-9-]+ (it is used in NATS subjects)');
export const nonEmpty = z.string().min(1, 'must not be empty');
export const absolutePath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');
export const port = z.int().min(1).max(65535);
// Host names and IPv4 only: colo-params (HOST:PORT:...) cannot carry an IPv6 address.
export const host = z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a host name or IPv4 address');
export const positiveMs = z.int().min(1);
