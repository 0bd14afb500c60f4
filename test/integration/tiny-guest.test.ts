/**
 * The tiny real Linux guest (scripts/guest/build-guest.sh) boots under TCG on
 * both disk buses and with both NIC models COLO tests use, counts on its
 * console, and leaves a contiguous prefix of fsync'd records on its data disk,
 * from its own boot.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  cpuSecondsOf,
  ensureTinyGuest,
  guestReady,
  lastConsoleCounter,
  readDiskRecords,
  startTinyGuest,
  type TinyGuest,
  type TinyGuestDisk,
  type TinyGuestNic,
} from '../helpers/tiny-guest.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const COUNTED = 20;
const BOOT_TIMEOUT_MS = 90_000;

let guest: TinyGuest;
beforeAll(async () => {
  guest = await ensureTinyGuest();
}, 300_000);

const DEVICE_NODE: Record<TinyGuestDisk, string> = { 'virtio-blk': '/dev/vda', ide: '/dev/sda' };

describe('tiny guest under TCG (no COLO)', () => {
  it.each([
    ['virtio-blk', 'virtio-net'],
    ['ide', 'e1000'],
  ] as Array<[TinyGuestDisk, TinyGuestNic]>)(
    `boots on a %s disk with a %s NIC, counts to ${COUNTED} on its console and leaves those records contiguous on the disk`,
    async (disk, nic) => {
      const dir = tmpRun(`tiny-guest-${disk}`);
      const vm = startTinyGuest(dir, guest, { disk, nic });

      const ready = await waitFor(() => guestReady(vm.consoleText()) ?? undefined, { timeoutMs: BOOT_TIMEOUT_MS, what: `GUEST READY in ${vm.consoleLog}` });
      const readyAtMs = Date.now();
      expect(ready.disk).toBe(DEVICE_NODE[disk]);
      expect(ready.nics).toEqual(['eth0']);

      await waitFor(() => (lastConsoleCounter(vm.consoleText()) ?? 0) >= COUNTED, { timeoutMs: 60_000, what: `COUNTER ${COUNTED}` });
      const cpuSeconds = cpuSecondsOf(vm.pid);
      const countedAtMs = Date.now();
      await vm.kill();
      const printed = lastConsoleCounter(vm.consoleText())!;

      const records = readDiskRecords(vm.diskPath);
      expect(records).toMatchObject({ contiguous: true, first: 1, strays: 0, bootIds: [ready.bootId] });
      // Record n is fsync'd before COUNTER n is printed; the kill may fall between the next write and its line.
      expect(records.last).toBeGreaterThanOrEqual(printed);
      expect(records.last).toBeLessThanOrEqual(printed + 1);

      const elapsedS = (countedAtMs - vm.startedAtMs) / 1000;
      console.info(
        `tiny guest (${disk}, ${nic}, TCG): GUEST READY after ${((readyAtMs - vm.startedAtMs) / 1000).toFixed(1)} s, ` +
          `${(printed / ((countedAtMs - readyAtMs) / 1000)).toFixed(1)} records/s, ${((100 * cpuSeconds) / elapsedS).toFixed(0)} % of a core`,
      );
    },
    180_000,
  );
});
