import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readDiskRecordsFile, SECTOR_BYTES } from '../../../../shared/guest-records/index.js';
import { countedImage } from './disk-image-fixture.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function imageFile(bytes: Uint8Array): string {
  dir = mkdtempSync(join(tmpdir(), 'guest-records-'));
  const path = join(dir, 'disk.img');
  writeFileSync(path, bytes);
  return path;
}

describe('readDiskRecordsFile', () => {
  it('summarizes a raw image file', () => {
    expect(readDiskRecordsFile(imageFile(countedImage(30)))).toMatchObject({ count: 30, last: 30, contiguous: true });
  });

  it('reads no further than maxBytes', () => {
    const path = imageFile(countedImage(30));
    expect(readDiskRecordsFile(path, 11 * SECTOR_BYTES)).toMatchObject({ count: 10, last: 10, endedBy: 'end-of-image' });
  });
});
