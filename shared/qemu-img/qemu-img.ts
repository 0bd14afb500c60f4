import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { z } from 'zod';
import { DiskError, errorMessage } from '../errors.js';

const run = promisify(execFile);

const infoSchema = z.object({ 'virtual-size': z.number().int().nonnegative(), format: z.string() });

export interface ImageInfo {
  virtualSizeBytes: number;
  format: string;
}

export interface QemuImg {
  info(path: string): Promise<ImageInfo>;
  /** `options`: qemu-img `-o` creation options, e.g. `compat=0.10`. An existing file is replaced. */
  create(path: string, format: 'raw' | 'qcow2', sizeBytes: number, options?: string): Promise<void>;
}

export function qemuImg(binary = 'qemu-img'): QemuImg {
  return {
    async info(path) {
      if (!existsSync(path)) throw new DiskError(`image ${path} does not exist`);
      let stdout: string;
      try {
        // -U: the image may be open in a running qemu; we only read its header.
        ({ stdout } = await run(binary, ['info', '-U', '--output=json', path]));
      } catch (e) {
        throw new DiskError(`qemu-img info ${path} failed: ${errorMessage(e)}`, { cause: e });
      }
      const parsed = infoSchema.safeParse(JSON.parse(stdout));
      if (!parsed.success) throw new DiskError(`qemu-img info ${path}: unexpected output`);
      return { virtualSizeBytes: parsed.data['virtual-size'], format: parsed.data.format };
    },
    async create(path, format, sizeBytes, options) {
      try {
        await run(binary, ['create', '-q', '-f', format, ...(options ? ['-o', options] : []), path, String(sizeBytes)]);
      } catch (e) {
        throw new DiskError(`qemu-img create ${path} failed: ${errorMessage(e)}`, { cause: e });
      }
    },
  };
}
