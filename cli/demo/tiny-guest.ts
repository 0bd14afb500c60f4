import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export interface TinyGuest {
  kernel: string;
  initrd: string;
}

/** A Debian kernel download (about 70 MB) and an initramfs build: minutes at worst on a slow mirror. */
const BUILD_TIMEOUT_MS = 5 * 60_000;
/** The kernel command line the tiny guest's /init expects. */
export const TINY_GUEST_APPEND = 'console=ttyS0 panic=-1 quiet';

/** The package root (where scripts/ lives), from the sources or from dist/. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the colo-ft package root (package.json) above this module');
    dir = up;
  }
  return dir;
}

/**
 * The tiny Linux guest (scripts/guest/build-guest.sh: Debian's kernel and
 * busybox-static, downloaded and unpacked, nothing installed), built into
 * `outDir` once; later calls return at once. The kernel is the uncompressed
 * vmlinux: qemu boots it directly, skipping an emulated decompressor.
 */
export async function buildTinyGuest(outDir: string): Promise<TinyGuest> {
  const script = join(packageRoot(), 'scripts', 'guest', 'build-guest.sh');
  await promisify(execFile)(script, [outDir], { timeout: BUILD_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  return { kernel: join(outDir, 'vmlinux'), initrd: join(outDir, 'initrd.img') };
}

/** The VM keys that make the demo's VM this guest. Under TCG periodic checkpoints are pushed out (7.2 deadlocks on them with vCPUs). */
export function tinyGuestVm(guest: TinyGuest, accel: 'kvm' | 'tcg'): Record<string, unknown> {
  return {
    memoryMiB: 128,
    machine: { type: 'pc', vcpus: 1, accelerator: accel },
    boot: { kernel: guest.kernel, initrd: guest.initrd, append: TINY_GUEST_APPEND },
    ...(accel === 'tcg' ? { tcgGuestWithoutCheckpoints: true, checkpointDelayMs: 3_600_000 } : {}),
  };
}
