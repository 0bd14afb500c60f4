export { SECTOR_BYTES, parseRecordSector, type SectorContent } from './record-sector.js';
export { summarizeDiskRecords, type DiskRecords } from './disk-records.js';
export { lastConsoleCounter, guestReady, type GuestReady } from './console-lines.js';
export { readDiskRecordsFile } from './read-disk-records-file.js';
