import { SECTOR_BYTES } from '../../../../shared/guest-records/index.js';

export const BOOT_A = 'bce834b3-682f-4ce9-81d4-817c46642274';
export const BOOT_B = '5d2005aa-a1fe-4d3f-89bc-e8338e87985a';

/** One sector holding `text` (latin1), NUL-padded, as the guest's dd conv=sync writes it. */
export function sectorOf(text: string): Uint8Array {
  const bytes = new Uint8Array(SECTOR_BYTES);
  bytes.set(Buffer.from(text, 'latin1'));
  return bytes;
}

export const record = (n: number, bootId = BOOT_A): string => `REC ${n} ${bootId}\n`;

/** An image whose sector i holds sectors[i] (null: never written); sector 0 is the first entry. */
export function imageOf(sectors: Array<string | Uint8Array | null>): Uint8Array {
  const image = new Uint8Array(sectors.length * SECTOR_BYTES);
  sectors.forEach((s, i) => {
    if (s !== null) image.set(typeof s === 'string' ? sectorOf(s) : s, i * SECTOR_BYTES);
  });
  return image;
}

/** Sector 0 unused, then records 1..last from one boot, then `emptyAfter` empty sectors. */
export function countedImage(last: number, emptyAfter = 4): Uint8Array {
  return imageOf([null, ...Array.from({ length: last }, (_, i) => record(i + 1)), ...Array<null>(emptyAfter).fill(null)]);
}
