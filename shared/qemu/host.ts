import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { QemuUnsupportedError, errorMessage } from '../errors.js';

const run = promisify(execFile);

export { isKvmUsable } from '../local/index.js';

export interface QemuVersion {
  major: number;
  minor: number;
  micro: number;
}

export const MIN_QEMU: QemuVersion = { major: 7, minor: 0, micro: 0 };

/** Commands the COLO procedure relies on; a qemu without any of them is refused. */
export const REQUIRED_QMP_COMMANDS = [
  'query-colo-status',
  'x-colo-lost-heartbeat',
  'x-blockdev-change',
  'nbd-server-start',
  'nbd-server-add',
  'nbd-server-stop',
  'migrate-set-capabilities',
  'migrate-set-parameters',
  'migrate',
  'human-monitor-command',
  'yank',
  'drive-mirror',
  'block-job-cancel',
] as const;

export function parseQemuVersion(text: string): QemuVersion | null {
  const m = /version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3] ?? 0) };
}

/**
 * Which QEMU releases can run COLO (README "Supported QEMU versions"): 7.0
 * through 9.2 (7.2 is what this project proves), not 10.0 and 10.1, whose
 * migration completes instead of entering COLO unless the upstream fix
 * "migration: Fix transition to COLO state from precopy" (Nov 2025) is in,
 * and 10.2 on again, which carry it.
 */
export type QemuColoSupport = 'supported' | 'too-old' | 'needs-colo-fix';

export function qemuColoSupport(v: QemuVersion): QemuColoSupport {
  if (v.major < MIN_QEMU.major || (v.major === MIN_QEMU.major && v.minor < MIN_QEMU.minor)) return 'too-old';
  if (v.major === 10 && v.minor <= 1) return 'needs-colo-fix';
  return 'supported';
}

/** `coloFixBackported`: the operator's word (config `qemu.coloFixBackported`) that their 10.0/10.1 build carries the fix. */
export function checkQemuVersion(v: QemuVersion, o: { coloFixBackported?: boolean } = {}): void {
  const version = `${v.major}.${v.minor}.${v.micro}`;
  const support = qemuColoSupport(v);
  if (support === 'too-old') {
    throw new QemuUnsupportedError(`qemu ${version} is too old: COLO orchestration needs ${MIN_QEMU.major}.${MIN_QEMU.minor} or newer`);
  }
  if (support === 'needs-colo-fix' && o.coloFixBackported !== true) {
    throw new QemuUnsupportedError(
      `qemu ${version} cannot protect a VM: in 10.0 and 10.1 the migration completes instead of entering COLO ` +
        '(fixed upstream by "migration: Fix transition to COLO state from precopy"); use QEMU <= 9.2 or >= 10.2, ' +
        'or set qemu.coloFixBackported: true if your build carries that fix',
    );
  }
}

export function missingCommands(available: readonly string[]): string[] {
  const have = new Set(available);
  return REQUIRED_QMP_COMMANDS.filter((c) => !have.has(c));
}

export function checkQmpCommands(available: readonly string[]): void {
  const missing = missingCommands(available);
  if (missing.length) {
    throw new QemuUnsupportedError(`this qemu lacks QMP commands COLO needs: ${missing.join(', ')} (is it built with COLO and replication?)`);
  }
}

export async function probeQemuBinary(binary: string, o: { coloFixBackported?: boolean } = {}): Promise<QemuVersion> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ['--version']));
  } catch (e) {
    throw new QemuUnsupportedError(`cannot run ${binary}: ${errorMessage(e)} (install qemu-system-x86)`);
  }
  const v = parseQemuVersion(stdout);
  if (!v) throw new QemuUnsupportedError(`cannot read the version of ${binary} from: ${stdout.trim()}`);
  checkQemuVersion(v, o);
  return v;
}
