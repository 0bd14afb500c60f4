import { describe, expect, it } from 'vitest';
import { summarizeDiskRecords, SECTOR_BYTES } from '../../../../shared/guest-records/index.js';
import { BOOT_A, BOOT_B, countedImage, imageOf, record } from './disk-image-fixture.js';

describe('summarizeDiskRecords', () => {
  it('records 1..N then empty sectors: a contiguous prefix of N', () => {
    expect(summarizeDiskRecords(countedImage(25))).toEqual({
      count: 25,
      contiguous: true,
      first: 1,
      last: 25,
      strays: 0,
      endedBy: 'empty',
      bootIds: [BOOT_A],
    });
  });

  it('no records: an empty prefix, which is contiguous (nothing is missing) with no first or last', () => {
    expect(summarizeDiskRecords(countedImage(0, 8))).toEqual({
      count: 0,
      contiguous: true,
      first: null,
      last: null,
      strays: 0,
      endedBy: 'empty',
      bootIds: [],
    });
  });

  it('sector 0 is not part of the prefix, whatever it holds', () => {
    const image = imageOf([record(7), record(1), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 1, first: 1, last: 1, contiguous: true });
  });

  it('a gap after a valid record ends the prefix; records after it are strays and make the disk non-contiguous', () => {
    const image = imageOf([null, record(1), record(2), null, record(4), record(5), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 2, first: 1, last: 2, strays: 2, contiguous: false, endedBy: 'empty' });
  });

  it('a torn record ends the prefix: the records before it count, the torn one does not', () => {
    const image = imageOf([null, record(1), record(2), 'REC 3 bce8', null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 2, last: 2, strays: 0, contiguous: true, endedBy: 'torn' });
  });

  it('a torn record in the middle with good records after it is not contiguous', () => {
    const image = imageOf([null, record(1), 'REC 2 bce8', record(3), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 1, last: 1, strays: 1, contiguous: false, endedBy: 'torn' });
  });

  it('a record in the wrong sector keeps the prefix going but breaks contiguity', () => {
    const image = imageOf([null, record(1), record(3), record(3), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 3, first: 1, last: 3, strays: 0, contiguous: false });
  });

  it('a prefix that does not start at record 1 is not contiguous', () => {
    const image = imageOf([null, record(2), record(3), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 2, first: 2, last: 3, contiguous: false });
  });

  it('records up to the last sector: ended by the end of the image, a trailing partial sector ignored', () => {
    const full = countedImage(3, 0);
    const withTail = new Uint8Array(full.length + SECTOR_BYTES / 2);
    withTail.set(full);
    withTail.fill(0x52, full.length);
    expect(summarizeDiskRecords(withTail)).toMatchObject({ count: 3, last: 3, contiguous: true, endedBy: 'end-of-image' });
  });

  it('lists each boot that wrote the prefix once, in order (an older boot left longer records behind)', () => {
    const image = imageOf([null, record(1, BOOT_B), record(2, BOOT_B), record(3, BOOT_A), record(4, BOOT_A), null]);
    expect(summarizeDiskRecords(image)).toMatchObject({ count: 4, contiguous: true, bootIds: [BOOT_B, BOOT_A] });
  });

  it('an image smaller than two sectors holds no records', () => {
    expect(summarizeDiskRecords(new Uint8Array(SECTOR_BYTES))).toMatchObject({ count: 0, endedBy: 'end-of-image' });
    expect(summarizeDiskRecords(new Uint8Array(0))).toMatchObject({ count: 0, last: null });
  });
});
