import { describe, expect, it } from 'vitest';
import { QemuUnsupportedError } from '../../../../shared/errors.js';
import {
  MIN_QEMU,
  REQUIRED_QMP_COMMANDS,
  checkQemuVersion,
  checkQmpCommands,
  isKvmUsable,
  missingCommands,
  parseQemuVersion,
} from '../../../../shared/qemu/host.js';

const DEBIAN_VERSION_TEXT =
  'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n' +
  'Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n';

function unsupported(fn: () => unknown): QemuUnsupportedError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QemuUnsupportedError);
    return e as QemuUnsupportedError;
  }
  throw new Error('expected a QemuUnsupportedError');
}

describe('parseQemuVersion', () => {
  it('reads Debian 12 qemu --version output, not the package version in parentheses', () => {
    expect(parseQemuVersion(DEBIAN_VERSION_TEXT)).toEqual({ major: 7, minor: 2, micro: 22 });
  });

  it.each([
    ['QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1)', { major: 8, minor: 2, micro: 2 }],
    ['QEMU emulator version 9.0.0', { major: 9, minor: 0, micro: 0 }],
    ['QEMU emulator version 10.1', { major: 10, minor: 1, micro: 0 }],
    ['QEMU emulator version 6.2.0 (Debian 1:6.2+dfsg-2ubuntu6.22)', { major: 6, minor: 2, micro: 0 }],
  ])('%s', (text, expected) => {
    expect(parseQemuVersion(text)).toEqual(expected);
  });

  it.each(['', 'qemu-system-x86_64: command not found', 'QEMU emulator'])('returns null for %j', (text) => {
    expect(parseQemuVersion(text)).toBeNull();
  });
});

describe('checkQemuVersion', () => {
  it('refuses 6.2 as too old, naming both versions, as a fatal error', () => {
    const err = unsupported(() => checkQemuVersion({ major: 6, minor: 2, micro: 0 }));
    expect(err.message).toContain('6.2.0');
    expect(err.message).toContain(`${MIN_QEMU.major}.${MIN_QEMU.minor}`);
    expect(err.recovery).toBe('fatal');
  });

  it.each([
    { major: 5, minor: 9, micro: 9 },
    { major: 6, minor: 99, micro: 0 },
  ])('refuses %j', (v) => {
    unsupported(() => checkQemuVersion(v));
  });

  it.each([
    { major: 7, minor: 0, micro: 0 },
    { major: 7, minor: 2, micro: 22 },
    { major: 8, minor: 0, micro: 0 },
    { major: 9, minor: 2, micro: 4 },
    { major: 10, minor: 2, micro: 0 },
    { major: 11, minor: 0, micro: 0 },
  ])('accepts %j', (v) => {
    expect(() => checkQemuVersion(v)).not.toThrow();
  });

  it.each([
    { major: 10, minor: 0, micro: 0 },
    { major: 10, minor: 1, micro: 3 },
  ])('refuses %j, whose migration completes instead of entering COLO, unless the fix is vouched for', (v) => {
    const err = unsupported(() => checkQemuVersion(v));
    expect(err.message).toContain(`qemu ${v.major}.${v.minor}.${v.micro} cannot protect a VM`);
    expect(err.message).toContain('migration: Fix transition to COLO state from precopy');
    expect(err.message).toContain('qemu.coloFixBackported: true');
    expect(() => checkQemuVersion(v, { coloFixBackported: true })).not.toThrow();
  });

  it('accepts what parseQemuVersion reads from Debian 12', () => {
    const v = parseQemuVersion(DEBIAN_VERSION_TEXT);
    expect(v).not.toBeNull();
    expect(() => checkQemuVersion(v!)).not.toThrow();
  });
});

describe('checkQmpCommands', () => {
  const all = [...REQUIRED_QMP_COMMANDS, 'query-status', 'qmp_capabilities'];

  it('accepts a qemu that has every command COLO needs', () => {
    expect(() => checkQmpCommands(all)).not.toThrow();
    expect(missingCommands(all)).toEqual([]);
  });

  it('includes the COLO-specific commands', () => {
    for (const c of ['query-colo-status', 'x-colo-lost-heartbeat', 'x-blockdev-change', 'nbd-server-add', 'migrate', 'yank']) {
      expect(REQUIRED_QMP_COMMANDS).toContain(c);
    }
  });

  it.each([...REQUIRED_QMP_COMMANDS])('names %s when it is missing', (command) => {
    const err = unsupported(() => checkQmpCommands(all.filter((c) => c !== command)));
    expect(err.message).toContain(command);
    expect(missingCommands(all.filter((c) => c !== command))).toEqual([command]);
  });

  it('names every missing command, and only those', () => {
    const available = all.filter((c) => c !== 'x-colo-lost-heartbeat' && c !== 'yank');
    const err = unsupported(() => checkQmpCommands(available));
    expect(err.message).toContain('x-colo-lost-heartbeat');
    expect(err.message).toMatch(/\byank\b/);
    expect(err.message).not.toContain('query-colo-status');
    expect(missingCommands(available)).toEqual(['x-colo-lost-heartbeat', 'yank']);
  });

  it('refuses a qemu with no commands at all', () => {
    expect(missingCommands([])).toEqual([...REQUIRED_QMP_COMMANDS]);
    unsupported(() => checkQmpCommands([]));
  });
});

describe('isKvmUsable', () => {
  it('is false for a device path that does not exist', () => {
    expect(isKvmUsable('/nonexistent/colo-ft-test/kvm')).toBe(false);
  });
});
