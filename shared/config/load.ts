import { readFileSync } from 'node:fs';
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

export function parseConfigText(text: string, source?: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      const where = `line ${pos.line}, column ${pos.col}: `;
      return { path: '', message: `YAML syntax error: ${where}${e.message}` };
    });
    throw new ConfigError(issues, { source });
  }
  return parseConfigValue(doc.toJS(), source);
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([{ path: '', message: `cannot read config file: ${errorMessage(e)}` }], {
      source: file,
      cause: e,
    });
  }
  return parseConfigText(text, file);
}
