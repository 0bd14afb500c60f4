import { ColoError } from '../../shared/errors.js';
import { sleep } from '../../shared/sleep.js';
import type { VmInstance } from '../../shared/qemu/index.js';

const DONE = /^(read|wrote) (\d+)\/(\d+) bytes at offset/;
const MISMATCH = /^Pattern verification failed/;

/**
 * Run a qemu-io command through HMP and read its verdict from qemu's output
 * (qemu-io prints there, not in the HMP reply).
 */
export async function qemuIo(vm: VmInstance, drive: string, command: string, timeoutMs: number): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let finish: (() => void) | undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const off = vm.proc.onOutput((line) => {
    lines.push(line);
    if (DONE.test(line)) finish?.();
  });
  try {
    const reply = (await vm.qmp.hmp(`qemu-io ${drive} "${command}"`, { timeoutMs })).trim();
    if (reply) throw new ColoError(`qemu-io failed: ${reply}`, 'local');
    const timer = new AbortController();
    await Promise.race([done, sleep(timeoutMs, timer.signal).catch(() => undefined)]);
    timer.abort();
    const ok = lines.some((l) => DONE.test(l)) && !lines.some((l) => MISMATCH.test(l));
    return { ok, lines };
  } finally {
    off();
  }
}
