import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { summarizeDiskRecords, type DiskRecords } from './disk-records.js';

/** Test and demo disks are small; a big image is read up to here, which still holds hours of records. */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** summarizeDiskRecords of a raw image file (its first maxBytes). */
export function readDiskRecordsFile(imagePath: string, maxBytes = DEFAULT_MAX_BYTES): DiskRecords {
  const fd = openSync(imagePath, 'r');
  try {
    const image = Buffer.alloc(Math.min(fstatSync(fd).size, maxBytes));
    let filled = 0;
    while (filled < image.length) {
      const got = readSync(fd, image, filled, image.length - filled, filled);
      if (got === 0) break;
      filled += got;
    }
    return summarizeDiskRecords(image.subarray(0, filled));
  } finally {
    closeSync(fd);
  }
}
