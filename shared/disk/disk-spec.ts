import { ConfigError, type ConfigIssue } from '../errors.js';
import type { DiskAttachment } from './guest-attach.js';

export interface ColoParams {
  host: string;
  port: number;
  exportName: string;
}

export interface DiskConfig {
  target: string;
  format: 'raw' | 'qcow2';
  vdev?: string;
  access: 'rw' | 'ro';
  backendType: 'qdisk' | 'phy' | 'tap';
  colo: boolean;
  coloParams?: ColoParams;
  activeDisk?: string;
  hiddenDisk?: string;
  /** The guest device the disk is attached to (structured form only); absent means `auto`. */
  device?: DiskAttachment;
}

export const DISK_FORMATS = ['raw', 'qcow2'] as const;
export const DISK_ACCESS_MODES = ['rw', 'ro'] as const;
export const DISK_BACKEND_TYPES = ['qdisk', 'phy', 'tap'] as const;

/** The one place disk defaults live; the config schema's structured form reads them too. */
export const DISK_DEFAULTS = {
  format: 'raw',
  access: 'rw',
  backendType: 'qdisk',
  colo: false,
} as const satisfies Partial<DiskConfig>;

type DiskField = keyof DiskConfig;

/** How a field is spelled in each form, so messages and issue paths name what the operator wrote. */
export type DiskSpelling = 'spec' | 'structured';

const SPEC_KEYS: Record<DiskField, string> = {
  target: 'target',
  format: 'format',
  vdev: 'vdev',
  access: 'access',
  backendType: 'backendtype',
  colo: 'colo',
  coloParams: 'colo-params',
  activeDisk: 'active-disk',
  hiddenDisk: 'hidden-disk',
  device: 'device',
};

export function diskKeyName(field: DiskField, spelling: DiskSpelling): string {
  return spelling === 'spec' ? SPEC_KEYS[field] : field;
}

/** A rule violation, located by field so each form can turn it into its own path. */
export interface DiskRuleIssue {
  field: DiskField;
  message: string;
}

/**
 * Rules shared by the xl-style string and the structured YAML form: both forms
 * must reject the same disks (source-notes §1).
 */
export function checkDiskRules(
  disk: DiskConfig,
  index: number,
  spelling: DiskSpelling,
  opts: { coloParamsRejected?: boolean } = {},
): DiskRuleIssue[] {
  const issues: DiskRuleIssue[] = [];
  const key = (f: DiskField): string => diskKeyName(f, spelling);
  const needs = (f: DiskField): string => (spelling === 'spec' ? `${key(f)}=...` : key(f));
  const add = (field: DiskField, message: string): void => {
    issues.push({ field, message: `disk ${index}: ${message}` });
  };

  // A colo-params that was given but rejected is still a COLO key, and is not "missing".
  const coloParamsGiven = disk.coloParams !== undefined || opts.coloParamsRejected === true;
  const hasColoKey =
    disk.colo || coloParamsGiven || disk.activeDisk !== undefined || disk.hiddenDisk !== undefined;
  if (hasColoKey && disk.backendType !== 'qdisk') {
    add('backendType', `COLO only works with the qdisk (QEMU) backend, not ${key('backendType')}=${disk.backendType}`);
  }
  if (disk.coloParams && /\s/.test(disk.coloParams.host + disk.coloParams.exportName)) {
    // The export name ends up in an HMP drive_add line, where whitespace ends the argument.
    add('coloParams', `${key('coloParams')} must not contain whitespace`);
  }
  if (!disk.colo) return issues;

  if (!coloParamsGiven) add('coloParams', `needs ${needs('coloParams')} for colo`);
  if (disk.activeDisk === undefined) add('activeDisk', `needs ${needs('activeDisk')} for colo`);
  if (disk.hiddenDisk === undefined) add('hiddenDisk', `needs ${needs('hiddenDisk')} for colo`);
  if (disk.access === 'ro') {
    add('access', `a colo disk must be writable (${key('access')}=rw): the secondary writes to it`);
  }
  if (disk.activeDisk !== undefined && disk.activeDisk === disk.hiddenDisk) {
    add('hiddenDisk', `${key('activeDisk')} and ${key('hiddenDisk')} must be different files`);
  }
  for (const f of ['activeDisk', 'hiddenDisk'] as const) {
    if (disk[f] !== undefined && disk[f] === disk.target) {
      add(f, `${key(f)} must not be the disk's own ${key('target')}`);
    }
  }
  return issues;
}

const COLO_PARAMS_RE = /^([^:]+):([0-9]+):exportname=(.+)$/;

/** Strict `HOST:PORT:exportname=NAME`; undefined for anything else. */
export function parseColoParams(value: string): ColoParams | undefined {
  const m = COLO_PARAMS_RE.exec(value);
  if (!m) return undefined;
  const [, host, portText, exportName] = m;
  if (host === undefined || portText === undefined || exportName === undefined) return undefined;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { host, port, exportName };
}

const VALUE_KEYS = [
  'target',
  'format',
  'vdev',
  'access',
  'backendtype',
  'colo-params',
  'active-disk',
  'hidden-disk',
] as const;
type ValueKey = (typeof VALUE_KEYS)[number];
const FLAGS = ['colo', 'no-colo'] as const;

function isValueKey(k: string): k is ValueKey {
  return (VALUE_KEYS as readonly string[]).includes(k);
}

function pickEnum<T extends string>(
  allowed: readonly T[],
  value: string | undefined,
  fallback: T,
  key: string,
  fail: (path: string, message: string) => void,
): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  fail(key, `${key} must be one of ${allowed.join(', ')} (got '${value}')`);
  return fallback;
}

/**
 * Parse one xl-style disk line (`format=raw,target=d.img,colo,colo-params=...`).
 * Pure; throws ConfigError listing every problem in the line, each issue's path
 * being the key it is about.
 */
export function parseDiskSpec(line: string, index: number): DiskConfig {
  const issues: ConfigIssue[] = [];
  const fail = (path: string, message: string): void => {
    issues.push({ path, message: `disk ${index}: ${message}` });
  };

  const values = new Map<ValueKey, string>();
  let colo: boolean = DISK_DEFAULTS.colo;

  // Commas inside a target are not supported: xl only allows them in a final target=.
  for (const raw of line.split(',')) {
    const token = raw.trim();
    if (token === '') {
      fail('', `empty item in '${line}'`);
      continue;
    }
    const eq = token.indexOf('=');
    if (eq === -1) {
      if (token === 'colo' || token === 'no-colo') {
        // Last one wins, as in xl.
        colo = token === 'colo';
        continue;
      }
      // xl: a bare word that is no flag is the target.
      if (values.has('target')) fail('target', `target given more than once ('${token}')`);
      else values.set('target', token);
      continue;
    }
    const key = token.slice(0, eq).trim();
    const value = token.slice(eq + 1).trim();
    if ((FLAGS as readonly string[]).includes(key)) {
      fail(key, `${key} is a flag and takes no value`);
      continue;
    }
    if (!isValueKey(key)) {
      fail(key, `unknown key '${key}'`);
      continue;
    }
    if (value === '') {
      fail(key, `${key}= has an empty value`);
      continue;
    }
    if (values.has(key)) {
      fail(key, `${key} given more than once`);
      continue;
    }
    values.set(key, value);
  }

  const target = values.get('target');
  if (target === undefined) fail('target', 'needs target=...');

  const format = pickEnum(DISK_FORMATS, values.get('format'), DISK_DEFAULTS.format, 'format', fail);
  const access = pickEnum(DISK_ACCESS_MODES, values.get('access'), DISK_DEFAULTS.access, 'access', fail);
  const backendType = pickEnum(
    DISK_BACKEND_TYPES,
    values.get('backendtype'),
    DISK_DEFAULTS.backendType,
    'backendtype',
    fail,
  );

  const disk: DiskConfig = { target: target ?? '', format, access, backendType, colo };
  const vdev = values.get('vdev');
  if (vdev !== undefined) disk.vdev = vdev;
  const coloParamsText = values.get('colo-params');
  let coloParamsInvalid = false;
  if (coloParamsText !== undefined) {
    const parsed = parseColoParams(coloParamsText);
    if (parsed) disk.coloParams = parsed;
    else {
      coloParamsInvalid = true;
      fail('colo-params', `colo-params is invalid: '${coloParamsText}' is not HOST:PORT:exportname=NAME`);
    }
  }
  const active = values.get('active-disk');
  if (active !== undefined) disk.activeDisk = active;
  const hidden = values.get('hidden-disk');
  if (hidden !== undefined) disk.hiddenDisk = hidden;

  for (const issue of checkDiskRules(disk, index, 'spec', { coloParamsRejected: coloParamsInvalid })) {
    issues.push({ path: SPEC_KEYS[issue.field], message: issue.message });
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return disk;
}
