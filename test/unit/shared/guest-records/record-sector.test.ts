import { describe, expect, it } from 'vitest';
import { parseRecordSector, SECTOR_BYTES } from '../../../../shared/guest-records/index.js';
import { BOOT_A, record, sectorOf } from './disk-image-fixture.js';

describe('parseRecordSector', () => {
  it('reads a record line padded with NULs', () => {
    expect(parseRecordSector(sectorOf(record(42)))).toEqual({ kind: 'record', n: 42, bootId: BOOT_A });
  });

  it('a sector of zeros is empty', () => {
    expect(parseRecordSector(new Uint8Array(SECTOR_BYTES))).toEqual({ kind: 'empty' });
  });

  it.each([
    ['cut before the newline', `REC 42 ${BOOT_A.slice(0, 10)}`],
    ['without a boot id', 'REC 42\n'],
    ['with a number that is not one', 'REC 4x2 abc\n'],
    ['with a leading zero', 'REC 042 abc\n'],
    ['with record zero (the guest starts at 1)', 'REC 0 abc\n'],
    ['with bytes after the line', `${record(42)}REC 43`],
    ['starting with zeros then a record (a shifted write)', `\0\0\0\0${record(42)}`],
    ['of someone else', 'hello world\n'],
  ])('a sector %s is torn', (_what, text) => {
    expect(parseRecordSector(sectorOf(text))).toEqual({ kind: 'torn' });
  });

  it('a record line filling the whole sector with no room for its newline is torn', () => {
    expect(parseRecordSector(sectorOf(`REC 1 ${'a'.repeat(SECTOR_BYTES)}`.slice(0, SECTOR_BYTES)))).toEqual({ kind: 'torn' });
  });

  it('refuses a buffer that is not one sector', () => {
    expect(() => parseRecordSector(new Uint8Array(SECTOR_BYTES - 1))).toThrow(RangeError);
  });
});
