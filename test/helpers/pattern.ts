import { openSync, readSync, closeSync } from 'node:fs';

/** True when `length` bytes at `offset` of a raw image all equal `byte`. */
export function imageHasPattern(path: string, byte: number, offset: number, length: number): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, offset);
    return n === length && buf.every((b) => b === byte);
  } finally {
    closeSync(fd);
  }
}
