import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { promisify } from 'node:util';
import { QemuUnsupportedError, errorMessage } from '../errors.js';

const run = promisify(execFile);

/** KVM is usable when /dev/kvm exists and this process may open it read-write. */
export function isKvmUsable(path = '/dev/kvm'): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

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

export function checkQemuVersion(v: QemuVersion): void {
  const older = v.major < MIN_QEMU.major || (v.major === MIN_QEMU.major && v.minor < MIN_QEMU.minor);
  if (older) {
    throw new QemuUnsupportedError(
      `qemu ${v.major}.${v.minor}.${v.micro} is too old: COLO orchestration needs ${MIN_QEMU.major}.${MIN_QEMU.minor} or newer`,
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

export async function probeQemuBinary(binary: string): Promise<QemuVersion> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ['--version']));
  } catch (e) {
    throw new QemuUnsupportedError(`cannot run ${binary}: ${errorMessage(e)} (install qemu-system-x86)`);
  }
  const v = parseQemuVersion(stdout);
  if (!v) throw new QemuUnsupportedError(`cannot read the version of ${binary} from: ${stdout.trim()}`);
  checkQemuVersion(v);
  return v;
}
