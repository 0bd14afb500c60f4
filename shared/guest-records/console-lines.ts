/**
 * The tiny guest's serial console: `GUEST READY disk=<dev> boot=<id> nics=<a,b>`
 * once its data disk is found, then `COUNTER <n>` after record n is on the disk. Only
 * complete lines count: a log read while qemu writes may end mid-line, and
 * `COUNTER 1` cut from `COUNTER 12` would read as a step back.
 */
const COUNTER_LINE = /^COUNTER ([0-9]+)\r?$/gm;
const READY_LINE = /^GUEST READY disk=(\S+) boot=(\S+) nics=(\S*?)\r?$/m;

function completeLines(text: string): string {
  return text.slice(0, text.lastIndexOf('\n') + 1);
}

/** n of the last complete COUNTER line, or null before the first. */
export function lastConsoleCounter(text: string): number | null {
  let last: number | null = null;
  for (const m of completeLines(text).matchAll(COUNTER_LINE)) last = Number(m[1]);
  return last;
}

export interface GuestReady {
  disk: string;
  bootId: string;
  /** The network interfaces the guest's drivers found (left down). */
  nics: string[];
}

/** The guest's GUEST READY line, or null when it has not printed it (yet). */
export function guestReady(text: string): GuestReady | null {
  const m = READY_LINE.exec(completeLines(text));
  return m ? { disk: m[1]!, bootId: m[2]!, nics: m[3] ? m[3].split(',') : [] } : null;
}
