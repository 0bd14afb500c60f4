import { readFileSync, statSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage, type ConfigIssue } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** `['vms', 0, 'disks', 1, 'colo-params']` -> `vms[0].disks[1].colo-params`. */
export function formatConfigPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

/** One or more operator-facing issues per zod issue; unknown keys get a path each. */
function toConfigIssues(issue: z.core.$ZodIssue): ConfigIssue[] {
  const path = formatConfigPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatConfigPath([...issue.path, key]),
        message: `unknown key '${key}'`,
      }));
    case 'invalid_value': {
      const allowed = issue.values.map((v) => String(v)).join(', ');
      const got = 'input' in issue ? ` (got ${describeValue(issue.input)})` : '';
      return [{ path, message: `must be one of ${allowed}${got}` }];
    }
    case 'invalid_type':
      if (!('input' in issue) || issue.input === undefined) return [{ path, message: 'is required' }];
      return [{ path, message: `must be ${issue.expected === 'array' ? 'a list' : issue.expected === 'object' ? 'a mapping' : `a ${issue.expected}`}, got ${describeValue(issue.input)}` }];
    default:
      return [{ path, message: issue.message }];
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validate an already-parsed document (e.g. from YAML) into a frozen Config. */
export function parseConfigValue(value: unknown, source?: string): Config {
  const result = configSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    const issues = result.error.issues.flatMap(toConfigIssues);
    throw new ConfigError(issues, { source, cause: result.error });
  }
  return deepFreeze(result.data);
}

/** A pair config is a few KiB; anything near this is not one. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Aliases may share a block or two; more is an expansion bomb, not a config. */
const MAX_ALIAS_COUNT = 100;
const EXCERPT_CHARS = 160;

/** A message safe to print: control and non-ASCII bytes escaped, cut short. */
export function excerpt(text: string, max = EXCERPT_CHARS): string {
  // eslint-disable-next-line no-control-regex
  const safe = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\uffff]/g, (c) => (c.charCodeAt(0) > 0xff ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)).replaceAll('\n', ' ');
  return safe.length > max ? `${safe.slice(0, max)}...` : safe;
}

function refuse(message: string, source?: string, cause?: unknown): never {
  throw new ConfigError([{ path: '', message }], { source, cause });
}

/** The path of the first string holding a NUL byte (no file name or argument may carry one), if any. */
function nulPath(value: unknown, path: PropertyKey[] = []): PropertyKey[] | null {
  if (typeof value === 'string') return value.includes('\0') ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nulPath(value[i], [...path, i]);
      if (p) return p;
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\0')) return [...path, excerpt(k)];
      const p = nulPath(v, [...path, k]);
      if (p) return p;
    }
  }
  return null;
}

export function parseConfigText(text: string, source?: string): Config {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) refuse(`the config is ${Buffer.byteLength(text)} bytes; a pair config is at most ${MAX_CONFIG_BYTES} bytes`, source);
  const binary = text.search(/[\u0000-\u0008\u000e-\u001f\ufffd]/);
  if (binary >= 0) refuse(`not a YAML text file: binary data at character ${binary} (${excerpt(text.slice(Math.max(0, binary - 10), binary + 20), 60)})`, source);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const issues = doc.errors.slice(0, 5).map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      const where = `line ${pos.line}, column ${pos.col}: `;
      return { path: '', message: `YAML syntax error: ${where}${excerpt(e.message)}` };
    });
    throw new ConfigError(issues, { source });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    refuse(`the YAML could not be expanded: ${excerpt(errorMessage(e))} (aliases may be used at most ${MAX_ALIAS_COUNT} times)`, source, e);
  }
  const nul = nulPath(value);
  if (nul) throw new ConfigError([{ path: formatConfigPath(nul), message: 'must not contain a NUL byte' }], { source });
  return parseConfigValue(value, source);
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) refuse(`the config file is ${size} bytes; a pair config is at most ${MAX_CONFIG_BYTES} bytes`, file);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError([{ path: '', message: `cannot read config file: ${errorMessage(e)}` }], {
      source: file,
      cause: e,
    });
  }
  return parseConfigText(text, file);
}
