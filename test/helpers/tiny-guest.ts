import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { buildTinyGuest, TINY_GUEST_APPEND, type TinyGuest } from '../../cli/demo/tiny-guest.js';
import { readDiskRecordsFile, type DiskRecords } from '../../shared/guest-records/index.js';
import { killQemuUnder, QEMU } from './qemu-vm.js';

export { guestReady, lastConsoleCounter } from '../../shared/guest-records/index.js';

/** The cache the demo uses too when XDG_CACHE_HOME is TEST_CACHE_HOME; tmpRun never removes it, and a rebuild is a no-op. */
export const TEST_CACHE_HOME = join(process.cwd(), '.test-runs', 'cache');
const GUEST_DIR = join(TEST_CACHE_HOME, 'colo-ft', 'tiny-guest');

export type { TinyGuest };
export { TINY_GUEST_APPEND };

let built: Promise<TinyGuest> | undefined;

/** The tiny guest's kernel and initrd, built once for the whole run (the demo's builder). */
export function ensureTinyGuest(): Promise<TinyGuest> {
  built ??= buildTinyGuest(GUEST_DIR).catch((e: unknown) => {
    built = undefined;
    throw e;
  });
  return built;
}

/** The guest's data-disk records (see shared/guest-records for what counts as contiguous). */
export function readDiskRecords(imagePath: string): DiskRecords {
  return readDiskRecordsFile(imagePath);
}

export type TinyGuestDisk = 'virtio-blk' | 'ide';
export type TinyGuestNic = 'virtio-net' | 'e1000';

export interface TinyGuestArgs {
  guest: TinyGuest;
  disk: TinyGuestDisk;
  /** A NIC on a hub with no other port: the guest's driver finds it, and no packet goes anywhere. */
  nic?: TinyGuestNic;
  diskPath: string;
  consoleLog: string;
  accel?: 'tcg' | 'kvm';
}


/** qemu argv for the tiny guest alone (no COLO): one vCPU, 128 MiB, its data disk as colo-disk0, serial to a file. */
export function tinyGuestArgs(o: TinyGuestArgs): string[] {
  const device = o.disk === 'ide' ? 'ide-hd,drive=colo-disk0,bus=ide.0' : 'virtio-blk-pci,drive=colo-disk0';
  const nic = o.nic ? ['-netdev', 'hubport,id=nic0,hubid=0', '-device', `${o.nic === 'e1000' ? 'e1000' : 'virtio-net-pci'},netdev=nic0`] : [];
  return [
    '-machine', `pc,accel=${o.accel ?? 'tcg'}`,
    '-smp', '1',
    '-m', '128',
    '-nodefaults',
    '-display', 'none',
    '-kernel', o.guest.kernel,
    '-initrd', o.guest.initrd,
    '-append', TINY_GUEST_APPEND,
    '-drive', `if=none,id=colo-disk0,file=${o.diskPath},format=raw`,
    '-device', device,
    ...nic,
    '-chardev', `file,id=con0,path=${o.consoleLog}`,
    '-serial', 'chardev:con0',
  ];
}

export interface RunningTinyGuest {
  pid: number;
  diskPath: string;
  consoleLog: string;
  startedAtMs: number;
  /** What the serial console has printed so far ('' before the file exists). */
  consoleText(): string;
  /** SIGKILL, resolved once the process has exited. */
  kill(): Promise<void>;
}

/**
 * Boots the tiny guest under `dir` on a fresh sparse data disk. Whatever happens
 * in the test, the qemu is SIGKILLed by PID (its own, then any qemu whose
 * command line names `dir`).
 */
export function startTinyGuest(dir: string, guest: TinyGuest, o: { disk: TinyGuestDisk; nic?: TinyGuestNic; diskBytes?: number; accel?: 'tcg' | 'kvm' }): RunningTinyGuest {
  const diskPath = join(dir, 'disk.img');
  const consoleLog = join(dir, 'console.log');
  closeSync(openSync(diskPath, 'w'));
  truncateSync(diskPath, o.diskBytes ?? 16 * 1024 * 1024);
  const stderr = openSync(join(dir, 'qemu.stderr'), 'w');
  let child: ChildProcess;
  try {
    child = spawn(QEMU, tinyGuestArgs({ guest, disk: o.disk, nic: o.nic, diskPath, consoleLog, accel: o.accel }), { stdio: ['ignore', 'ignore', stderr] });
  } finally {
    closeSync(stderr);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${QEMU} did not start (see ${dir}/qemu.stderr)`);
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await exited;
    }
  };
  onTestFinished(async () => {
    await kill();
    await killQemuUnder(dir);
  });
  const consoleText = (): string => {
    try {
      return readFileSync(consoleLog, 'latin1');
    } catch {
      return '';
    }
  };
  return { pid, diskPath, consoleLog, startedAtMs: Date.now(), consoleText, kill };
}

/** CPU seconds (user + system) a live process has used, from /proc (clock ticks are 100 Hz on Linux). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
