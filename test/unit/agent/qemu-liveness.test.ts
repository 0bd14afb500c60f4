import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QemuLiveness } from '../../../agent/signals/qemu-liveness.js';
import { silentLogger } from '../../../shared/log.js';
import type { VmInstance } from '../../../shared/qemu/index.js';
import type { QmpEvent } from '../../../shared/qmp/index.js';

const INTERVAL_MS = 100;
const TIMEOUT_MS = 166;
const OOB_TIMEOUT_MS = 100;

/** Just what QemuLiveness uses of a VmInstance: the main monitor (events, last line heard, query-status), the OOB monitor, the process. */
function fakeVm(answers: { main: boolean; oob: boolean }) {
  const listeners = new Set<(e: QmpEvent) => void>();
  let lastHeardAt: number | undefined;
  const hear = () => void (lastHeardAt = performance.now());
  const never = () => new Promise<never>(() => undefined);
  const execute = vi.fn((_cmd: string, _args: unknown, o: { timeoutMs: number }) =>
    answers.main ? (hear(), Promise.resolve({ status: 'running' })) : new Promise((_r, reject) => setTimeout(() => reject(new Error('timeout')), o.timeoutMs)),
  );
  const executeOob = vi.fn((_cmd: string, _args: unknown, o: { timeoutMs: number }) =>
    answers.oob ? Promise.resolve({}) : new Promise((_r, reject) => setTimeout(() => reject(new Error('timeout')), o.timeoutMs)),
  );
  const vm = {
    proc: { isRunning: true, exited: never(), kill: vi.fn() },
    qmp: {
      isOpen: true,
      get lastHeardAt() {
        return lastHeardAt;
      },
      onEvent: (l: (e: QmpEvent) => void) => (listeners.add(l), () => void listeners.delete(l)),
      execute,
    },
    oob: { executeOob },
  } as unknown as VmInstance;
  const event = (name: string) => {
    hear();
    for (const l of listeners) l({ event: name, data: {}, timestamp: { seconds: 0, microseconds: 0 }, receivedAtMs: performance.now() });
  };
  return { vm, execute, executeOob, event, listeners };
}

function liveness() {
  const onHung = vi.fn<(vm: VmInstance, reason: string) => void>();
  const l = new QemuLiveness({ intervalMs: INTERVAL_MS, timeoutMs: TIMEOUT_MS, oobTimeoutMs: OOB_TIMEOUT_MS, log: silentLogger(), onHung });
  return { l, onHung };
}

let stop: () => void = () => undefined;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'performance', 'Date'] });
});
afterEach(() => {
  stop();
  vi.useRealTimers();
});

describe('QemuLiveness', () => {
  it('does not probe while qemu keeps speaking on its monitor (checkpoint events closer than intervalMs)', async () => {
    const f = fakeVm({ main: true, oob: true });
    const { l, onHung } = liveness();
    stop = () => l.stop();
    l.watch(f.vm);
    for (let t = 0; t < 2_000; t += 60) {
      await vi.advanceTimersByTimeAsync(60);
      f.event('STOP');
    }
    expect(f.execute).not.toHaveBeenCalled();
    expect(onHung).not.toHaveBeenCalled();
  });

  it('probes once the main monitor has been quiet for intervalMs, and again each intervalMs of quiet after', async () => {
    const f = fakeVm({ main: true, oob: true });
    const { l } = liveness();
    stop = () => l.stop();
    l.watch(f.vm);
    f.event('RESUME');
    await vi.advanceTimersByTimeAsync(INTERVAL_MS - 1);
    expect(f.execute).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(f.execute).toHaveBeenCalledTimes(1);
    expect(f.execute.mock.calls[0]![0]).toBe('query-status');
    await vi.advanceTimersByTimeAsync(INTERVAL_MS * 3);
    expect(f.execute).toHaveBeenCalledTimes(4);
  });

  it('a qemu whose main monitor is slow but whose OOB monitor answers is not hung', async () => {
    const f = fakeVm({ main: false, oob: true });
    const { l, onHung } = liveness();
    stop = () => l.stop();
    l.watch(f.vm);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS + TIMEOUT_MS + OOB_TIMEOUT_MS + 10);
    expect(f.executeOob).toHaveBeenCalledTimes(1);
    expect(onHung).not.toHaveBeenCalled();
  });

  it('a qemu silent on both monitors is declared hung within quiet interval + probe + OOB probe of its last line', async () => {
    const f = fakeVm({ main: false, oob: false });
    const { l, onHung } = liveness();
    stop = () => l.stop();
    l.watch(f.vm);
    f.event('RESUME');
    await vi.advanceTimersByTimeAsync(INTERVAL_MS + TIMEOUT_MS + OOB_TIMEOUT_MS - 1);
    expect(onHung).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(onHung).toHaveBeenCalledTimes(1);
    expect(onHung.mock.calls[0]![1]).toBe(`qemu answered neither monitor within ${TIMEOUT_MS + OOB_TIMEOUT_MS} ms`);
  });

  it('stop() ends the probes and drops its event listener', async () => {
    const f = fakeVm({ main: true, oob: true });
    const { l } = liveness();
    l.watch(f.vm);
    l.stop();
    expect(f.listeners.size).toBe(0);
    await vi.advanceTimersByTimeAsync(INTERVAL_MS * 10);
    expect(f.execute).not.toHaveBeenCalled();
  });
});
