import { describe, expect, it } from 'vitest';
import { isPidAlive, signalPid } from '../../../../shared/local/index.js';

// Above the kernel's pid_max (at most 2^22): never a live process.
const NO_SUCH_PID = 2 ** 22 + 1;

describe('signalPid', () => {
  it('signal 0 probes a process: true for this one, false for none', () => {
    expect(signalPid(process.pid, 0)).toBe(true);
    expect(signalPid(NO_SUCH_PID, 0)).toBe(false);
  });

  it('an already gone process is false, never a throw', () => {
    expect(() => signalPid(NO_SUCH_PID, 'SIGKILL')).not.toThrow();
    expect(signalPid(NO_SUCH_PID, 'SIGKILL')).toBe(false);
  });

  it('isPidAlive goes through it', () => {
    expect(isPidAlive(process.pid)).toBe(true);
    expect(isPidAlive(NO_SUCH_PID)).toBe(false);
  });
});
