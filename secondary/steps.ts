import { nbdServerTlsArgs } from '../shared/tls/index.js';
import { existsSync } from 'node:fs';
import { exportNameOf, isColoDisk } from '../shared/disk/index.js';
import { DiskError, RemoteError } from '../shared/errors.js';
import type { QemuImg } from '../shared/qemu/index.js';
import type { VmPlan } from '../shared/qemu/index.js';
import { runQmpSteps, type QmpCall, type QmpClient } from '../shared/qmp/index.js';
import type { ReadinessReply } from '../shared/nats/index.js';

/** Parent images' virtual sizes by disk index, read with qemu-img. */
export async function coloDiskSizes(plan: VmPlan, img: QemuImg): Promise<Map<number, number>> {
  const sizes = new Map<number, number>();
  for (const d of plan.disks.filter(isColoDisk)) {
    if (!existsSync(d.imagePath)) {
      throw new DiskError(`disk ${d.index}: image ${d.imagePath} does not exist; give the secondary a copy of the primary's image (or restore it)`);
    }
    sizes.set(d.index, (await img.info(d.imagePath)).virtualSizeBytes);
  }
  return sizes;
}

/**
 * Restore path: the parent image must have the survivor's virtual size. A
 * missing one is created empty (drive-mirror fills it); one of another size is
 * refused, never resized or overwritten.
 */
export async function ensureParentImages(plan: VmPlan, img: QemuImg, survivorSizes: ReadonlyArray<{ index: number; sizeBytes: number }>): Promise<void> {
  for (const want of survivorSizes) {
    const d = plan.disks.find((x) => x.index === want.index);
    if (!d || !isColoDisk(d)) continue;
    if (!existsSync(d.imagePath)) {
      await img.create(d.imagePath, d.disk.format, want.sizeBytes);
      continue;
    }
    const have = (await img.info(d.imagePath)).virtualSizeBytes;
    if (have !== want.sizeBytes) {
      throw new DiskError(`disk ${d.index}: existing image ${d.imagePath} is ${have} bytes but the survivor's is ${want.sizeBytes} bytes; refusing to restore onto it`);
    }
  }
}

/**
 * Fresh active and hidden overlays at exactly the parent's virtual size. An
 * existing overlay of another size is refused, never silently replaced; one of
 * the right size is recreated empty, since stale overlay content would corrupt
 * the replica.
 */
export const OVERLAY_OPTIONS = 'compat=0.10';

export async function prepareOverlays(plan: VmPlan, img: QemuImg): Promise<void> {
  const sizes = await coloDiskSizes(plan, img);
  for (const d of plan.disks) {
    const size = sizes.get(d.index);
    if (size === undefined) continue;
    for (const [what, path] of [['active', d.activePath], ['hidden', d.hiddenPath]] as const) {
      if (!path) throw new DiskError(`disk ${d.index}: no ${what} disk configured`);
      if (existsSync(path)) {
        const existing = (await img.info(path)).virtualSizeBytes;
        if (existing !== size) {
          throw new DiskError(`disk ${d.index}: existing ${what} disk ${path} is ${existing} bytes but the parent image is ${size} bytes; remove it or fix the image`);
        }
      }
      // Always a fresh, empty overlay. qcow2 v2 (compat=0.10): COLO empties both overlays at every
      // checkpoint, and for v3 images qemu 7.2 takes a shortcut (make_completely_empty) that
      // aborts the secondary ("First cluster in emptied image is in use") when an allocation
      // races it; v2 images take the discard path, which has no such abort.
      await img.create(path, 'qcow2', size, OVERLAY_OPTIONS);
    }
  }
}

/** Offer every device to the primary (a disk: its NBD export), then x-colo (colo-procedure.md, Protect step 1). */
export async function exportDisks(plan: VmPlan, qmp: QmpClient, call: QmpCall): Promise<void> {
  if (plan.nbd) {
    // With TLS: only a client with a certificate from the pair's CA, and only the peer's, may open an export.
    await qmp.execute('nbd-server-start', { addr: { type: 'inet', data: { host: plan.nbd.host, port: String(plan.nbd.port) } }, ...nbdServerTlsArgs(plan.tls) }, call);
    for (const device of plan.devices) await runQmpSteps(qmp, device.secondary.prepare(), call);
  }
  await qmp.execute('migrate-set-capabilities', { capabilities: [{ capability: 'x-colo', state: true }] }, call);
}

export interface PrimaryDisks {
  disks: ReadonlyArray<{ index: number; sizeBytes: number }>;
  accel?: 'kvm' | 'tcg';
}

/**
 * Answer the primary: ready with our endpoints, or a refusal naming the disk
 * whose size differs (replication over mismatched sizes corrupts the replica).
 */
export function readinessReply(plan: VmPlan, ready: boolean, reason: string, sizes: Map<number, number>, primary: PrimaryDisks): ReadinessReply {
  if (primary.accel !== undefined && primary.accel !== plan.accel) {
    // qemu would accept the stream and die loading it: the primary would only see a broken pipe.
    throw new RemoteError(
      'MACHINE_MISMATCH',
      `secondary ${plan.node} runs qemu under ${plan.accel} but the primary under ${primary.accel}: the COLO stream only loads into a qemu with the same accelerator; set vms[].machine.accelerator explicitly, or make /dev/kvm usable on both nodes`,
    );
  }
  for (const p of primary.disks) {
    const mine = sizes.get(p.index);
    if (mine !== undefined && mine !== p.sizeBytes) {
      throw new RemoteError(
        'DISK_SIZE_MISMATCH',
        `secondary ${plan.node} refuses disk ${p.index}: its image is ${mine} bytes, the primary's is ${p.sizeBytes} bytes`,
      );
    }
  }
  if (!ready || !plan.nbd) return { ready: false, node: plan.node, reason };
  return {
    ready: true,
    node: plan.node,
    reason,
    migrationUri: plan.migrationUri,
    nbd: plan.nbd,
    disks: plan.disks
      .filter((d) => sizes.has(d.index))
      .map((d) => ({ index: d.index, exportName: exportNameOf(d), sizeBytes: sizes.get(d.index)! })),
  };
}
