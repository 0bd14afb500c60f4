import { describe, expect, it } from 'vitest';
import { guestReady, lastConsoleCounter } from '../../../../shared/guest-records/index.js';
import { BOOT_A } from './disk-image-fixture.js';

const READY = `GUEST READY disk=/dev/vda boot=${BOOT_A} nics=eth0,eth1\r\n`;

describe('lastConsoleCounter', () => {
  it('the last complete COUNTER line of a serial log (CRLF)', () => {
    expect(lastConsoleCounter(`${READY}COUNTER 1\r\nCOUNTER 2\r\nCOUNTER 3\r\n`)).toBe(3);
  });

  it('plain LF lines too', () => {
    expect(lastConsoleCounter('COUNTER 9\nCOUNTER 10\n')).toBe(10);
  });

  it('ignores a line cut mid-write, which would read as a step back', () => {
    expect(lastConsoleCounter('COUNTER 11\r\nCOUNTER 1')).toBe(11);
    expect(lastConsoleCounter('COUNTER 11\r\nCOUNTER 12\r')).toBe(11);
  });

  it('null before the first counter', () => {
    expect(lastConsoleCounter('')).toBeNull();
    expect(lastConsoleCounter(READY)).toBeNull();
  });

  it('only whole COUNTER lines: kernel chatter that mentions one does not count', () => {
    expect(lastConsoleCounter('COUNTER 4\r\n[ 1.0] xCOUNTER 99\r\nCOUNTER 100 extra\r\n')).toBe(4);
  });
});

describe('guestReady', () => {
  it('the disk, boot id and NICs of the READY line', () => {
    expect(guestReady(`[    0.5] booting\r\n${READY}COUNTER 1\r\n`)).toEqual({ disk: '/dev/vda', bootId: BOOT_A, nics: ['eth0', 'eth1'] });
  });

  it('a guest without a NIC lists none', () => {
    expect(guestReady(`GUEST READY disk=/dev/sda boot=${BOOT_A} nics=\r\n`)).toEqual({ disk: '/dev/sda', bootId: BOOT_A, nics: [] });
  });

  it('null until the line is complete', () => {
    expect(guestReady('')).toBeNull();
    expect(guestReady(READY.slice(0, -2))).toBeNull();
  });
});
