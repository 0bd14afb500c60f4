import { z } from 'zod';

/** Field types shared by the config schema's parts. */
const NAME_RE = /^[a-z0-9-]+$/;
export const name = z.string().regex(NAME_RE, 'must match [a-z0-9-]+ (it is used in NATS subjects)');
export const nonEmpty = z.string().min(1, 'must not be empty');
export const absolutePath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');
export const port = z.int().min(1).max(65535);
// Host names and IPv4 only: colo-params (HOST:PORT:...) cannot carry an IPv6 address.
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?';
const HOST_RE = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);
export const host = z.string().regex(HOST_RE, 'must be a host name or IPv4 address (letters, digits, dots and inner hyphens)');

const NATS_URL_RE = new RegExp(`^(?:(?:nats|tls|ws|wss)://)?(?:[^\\s@/]+@)?(${LABEL}(?:\\.${LABEL})*)(?::(\\d{1,5}))?/?$`);
/** A NATS server as nats.js takes it: `[nats|tls|ws|wss://][user:pass@]host[:port]`. */
export const natsServerUrl = z.string().refine((u) => {
  const m = NATS_URL_RE.exec(u);
  return m !== null && (m[2] === undefined || (Number(m[2]) >= 1 && Number(m[2]) <= 65535));
}, 'must be a NATS server URL: [nats|tls|ws|wss://][user:pass@]host[:port] with a port in 1..65535');
export const positiveMs = z.int().min(1);
