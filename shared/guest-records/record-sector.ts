/**
 * The tiny guest's on-disk record (scripts/guest/build-guest.sh writes it):
 * record n lives in sector n as `REC <n> <boot-id>\n`, NUL-padded to 512 bytes.
 * Sector 0 is never written.
 */
export const SECTOR_BYTES = 512;

export type SectorContent =
  | { kind: 'record'; n: number; bootId: string }
  /** Every byte is zero: never written. */
  | { kind: 'empty' }
  /** Neither: a partial or overwritten record, or someone else's data. */
  | { kind: 'torn' };

const NUL = 0;
const NEWLINE = 0x0a;
const RECORD_LINE = /^REC ([1-9][0-9]{0,14}) ([!-~]{1,64})$/;

function isAllZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== NUL) return false;
  return true;
}

/** Classifies one 512-byte sector. A record needs its whole line, the newline, and nothing but NULs after it. */
export function parseRecordSector(sector: Uint8Array): SectorContent {
  if (sector.length !== SECTOR_BYTES) throw new RangeError(`a sector is ${SECTOR_BYTES} bytes, got ${sector.length}`);
  if (sector[0] === NUL && isAllZero(sector, 0)) return { kind: 'empty' };
  const newline = sector.indexOf(NEWLINE);
  if (newline < 0 || !isAllZero(sector, newline + 1)) return { kind: 'torn' };
  const match = RECORD_LINE.exec(String.fromCharCode(...sector.subarray(0, newline)));
  if (!match) return { kind: 'torn' };
  return { kind: 'record', n: Number(match[1]), bootId: match[2]! };
}
