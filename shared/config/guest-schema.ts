// The parts of a `vms[]` entry that describe the guest itself: firmware or kernel, console, the user's own qemu arguments.
import { z } from 'zod';
import { DISK_MODELS } from '../disk/index.js';
import { absolutePath, nonEmpty } from './primitives.js';

/** Guest device of one disk (structured disk form). */
export const diskAttachmentSchema = z.strictObject({
  model: z.enum(DISK_MODELS).default('auto'),
  bootindex: z.int().min(0).optional(),
  // qemu caps a virtio-blk serial at 20 bytes; no comma keeps the option list simple.
  serial: z.string().regex(/^[A-Za-z0-9._-]{1,20}$/, 'must be 1-20 characters of A-Z a-z 0-9 . _ -').optional(),
});

const noWhitespaceOrNul = (what: string) => z.string().refine((s) => !/[\0\n]/.test(s), `${what} must not contain NUL or newline`);

export const bootSchema = z
  .strictObject({
    /** SeaBIOS is qemu's default; OVMF needs its code and a per-node copy of its vars file. */
    firmware: z.enum(['seabios', 'ovmf']).default('seabios'),
    ovmfCode: absolutePath.optional(),
    ovmfVars: absolutePath.optional(),
    /** Direct kernel boot (no bootloader on the disk): both nodes need the same files. */
    kernel: absolutePath.optional(),
    initrd: absolutePath.optional(),
    append: noWhitespaceOrNul('append').optional(),
  })
  .superRefine((b, ctx) => {
    if (b.firmware === 'ovmf' && b.ovmfCode === undefined) {
      ctx.addIssue({ code: 'custom', path: ['ovmfCode'], message: 'firmware ovmf needs ovmfCode (e.g. /usr/share/OVMF/OVMF_CODE.fd)' });
    }
    if (b.firmware === 'seabios') {
      for (const k of ['ovmfCode', 'ovmfVars'] as const) {
        if (b[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is only used with firmware ovmf` });
      }
    }
    for (const k of ['initrd', 'append'] as const) {
      if (b[k] !== undefined && b.kernel === undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} needs kernel` });
    }
  })
  .prefault({});

export const consoleSchema = z
  .strictObject({
    /** `log`: the guest's first serial port to `<runtimeDir>/<vm>/console.log` (appended across restarts). */
    serial: z.enum(['log', 'none']).default('log'),
    /** VNC on the node's loopback only, display `vncDisplay` (port 5900 + display). */
    vnc: z.boolean().default(false),
    vncDisplay: z.int().min(0).max(99).default(0),
  })
  .prefault({});

/** The operator's own qemu arguments; checked against what colo-ft owns in vm-schema.ts. */
export const extraArgsSchema = z.array(nonEmpty).default([]);
