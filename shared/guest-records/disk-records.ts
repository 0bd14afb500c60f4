import { parseRecordSector, SECTOR_BYTES } from './record-sector.js';

/**
 * What a data disk of the tiny guest holds. The prefix is the run of sectors
 * from sector 1 that each hold a record; the first sector that holds none
 * (empty, torn, or the end of the image) ends it.
 */
export interface DiskRecords {
  /** Records in the prefix. */
  count: number;
  /**
   * Sector s holds record n = s for every sector of the prefix, and no record
   * lies beyond the prefix. A record after a gap means a write in the middle
   * was lost, so it makes the disk non-contiguous rather than extending it.
   */
  contiguous: boolean;
  /** n of the prefix's first record (sector 1), null when the prefix is empty. */
  first: number | null;
  /** n of the prefix's last record, null when the prefix is empty. */
  last: number | null;
  /** Records found after the prefix ended. */
  strays: number;
  /** What ended the prefix. */
  endedBy: 'empty' | 'torn' | 'end-of-image';
  /** The distinct boot ids of the prefix, in order of first appearance (one per guest boot that wrote it). */
  bootIds: string[];
}

function sectorAt(image: Uint8Array, index: number): Uint8Array {
  return image.subarray(index * SECTOR_BYTES, (index + 1) * SECTOR_BYTES);
}

/** Reads the records of a raw disk image held in memory (a trailing partial sector is ignored). */
export function summarizeDiskRecords(image: Uint8Array): DiskRecords {
  const sectors = Math.floor(image.length / SECTOR_BYTES);
  const bootIds: string[] = [];
  let count = 0;
  let first: number | null = null;
  let last: number | null = null;
  let numbersMatch = true;
  let endedBy: DiskRecords['endedBy'] = 'end-of-image';
  let s = 1;
  for (; s < sectors; s++) {
    const content = parseRecordSector(sectorAt(image, s));
    if (content.kind !== 'record') {
      endedBy = content.kind;
      break;
    }
    count++;
    first ??= content.n;
    last = content.n;
    if (content.n !== s) numbersMatch = false;
    if (!bootIds.includes(content.bootId)) bootIds.push(content.bootId);
  }
  let strays = 0;
  for (s++; s < sectors; s++) if (parseRecordSector(sectorAt(image, s)).kind === 'record') strays++;
  return { count, contiguous: numbersMatch && strays === 0, first, last, strays, endedBy, bootIds };
}
