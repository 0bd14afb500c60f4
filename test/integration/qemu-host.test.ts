import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiskError, QemuUnsupportedError } from '../../shared/errors.js';
import { freePorts } from '../../shared/local/index.js';
import {
  checkQmpCommands,
  missingCommands,
  planVm,
  probeQemuBinary,
  qemuImg,
  type VmPlan,
} from '../../shared/qemu/index.js';
import { queryCommandNames, queryVersion } from '../../shared/qmp/index.js';
import { coloDiskSizes, prepareOverlays } from '../../secondary/steps.js';
import { kvmForTests } from '../helpers/pair.js';
import { coloDiskSpec, nodeImageDir, plainDiskSpec, QEMU, startVm, vmTestConfig } from '../helpers/qemu-vm.js';
import { tmpRun } from '../helpers/tmp-run.js';

const MiB = 1024 * 1024;

async function plan(dir: string, disks: (nbdPort: number) => string[], node: 'alpha' | 'beta', role: 'primary' | 'secondary'): Promise<VmPlan> {
  const [migrationPort, nbdPort] = await freePorts(2);
  const p = planVm(vmTestConfig(dir, { disks: disks(nbdPort!), migrationPort: migrationPort! }), 'vm1', node, role, kvmForTests());
  mkdirSync(nodeImageDir(dir, node), { recursive: true });
  return p;
}

const secondaryPlan = (dir: string, n = 1) =>
  plan(dir, (nbd) => Array.from({ length: n }, (_, i) => coloDiskSpec(i, nbd)), 'beta', 'secondary');

describe('qemu binary checks', () => {
  it('refuses a qemu older than 7.0 and a missing binary; accepts the real one', async () => {
    const dir = tmpRun('probe');
    const old = join(dir, 'qemu-old');
    writeFileSync(old, '#!/bin/sh\necho "QEMU emulator version 5.2.0"\necho "Copyright (c) 2003-2020 Fabrice Bellard"\n');
    chmodSync(old, 0o755);
    const tooOld = await probeQemuBinary(old).catch((e: unknown) => e);
    expect(tooOld).toBeInstanceOf(QemuUnsupportedError);
    expect((tooOld as Error).message).toMatch(/5\.2\.0 is too old.*7\.0/);

    const missing = join(dir, 'no-such-qemu');
    const gone = await probeQemuBinary(missing).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(QemuUnsupportedError);
    expect((gone as Error).message).toContain(`cannot run ${missing}`);
    expect((gone as Error).message).toMatch(/ENOENT/);

    const garbled = join(dir, 'qemu-garbled');
    writeFileSync(garbled, '#!/bin/sh\necho "hello"\n');
    chmodSync(garbled, 0o755);
    await expect(probeQemuBinary(garbled)).rejects.toThrow(/cannot read the version/);

    const real = await probeQemuBinary(QEMU);
    expect(real.major).toBeGreaterThanOrEqual(7);

    // The binary's --version and the running qemu's QMP agree; its command set satisfies COLO.
    const plain = await plan(dir, () => [plainDiskSpec(0)], 'alpha', 'primary');
    await qemuImg().create(plain.disks[0]!.imagePath, 'raw', MiB);
    const vm = await startVm(dir, plain);
    const v = await queryVersion(vm.qmp);
    expect({ major: v.major, minor: v.minor, micro: v.micro }).toEqual(real);
    const names = await queryCommandNames(vm.qmp);
    expect(names).toContain('query-status');
    expect(missingCommands(names)).toEqual([]);
    expect(() => checkQmpCommands(names)).not.toThrow();
    const without = names.filter((n) => n !== 'x-colo-lost-heartbeat');
    expect(() => checkQmpCommands(without)).toThrow(QemuUnsupportedError);
    expect(() => checkQmpCommands(without)).toThrow(/lacks QMP commands COLO needs: x-colo-lost-heartbeat \(/);
  });
});

describe('qemu-img and secondary overlays', () => {
  const SIZE = 5 * MiB + 64 * 1024;

  it('prepareOverlays creates active and hidden qcow2 at exactly the parent size, and recreates them empty', async () => {
    const dir = tmpRun('overlays');
    const p = await secondaryPlan(dir, 2);
    const img = qemuImg();
    await img.create(p.disks[0]!.imagePath, 'raw', SIZE);
    await img.create(p.disks[1]!.imagePath, 'raw', 2 * MiB);
    expect(await coloDiskSizes(p, img)).toEqual(new Map([[0, SIZE], [1, 2 * MiB]]));

    await prepareOverlays(p, img);
    for (const [d, size] of [[p.disks[0]!, SIZE], [p.disks[1]!, 2 * MiB]] as const) {
      expect(await img.info(d.activePath!)).toEqual({ virtualSizeBytes: size, format: 'qcow2' });
      expect(await img.info(d.hiddenPath!)).toEqual({ virtualSizeBytes: size, format: 'qcow2' });
    }
    // Stale data in an overlay of the right size is discarded: the overlay is made anew.
    const active = p.disks[0]!.activePath!;
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0xab 0 64k', active]);
    const holds = (byte: string): boolean => {
      const r = spawnSync('qemu-io', ['-f', 'qcow2', '-c', `read -P ${byte} 0 64k`, active], { encoding: 'utf8' });
      return r.status === 0 && !/Pattern verification failed/.test(r.stdout + r.stderr);
    };
    expect(holds('0xab')).toBe(true);
    await prepareOverlays(p, img);
    expect(holds('0xab')).toBe(false);
    expect(holds('0x00')).toBe(true);
    expect((await img.info(active)).virtualSizeBytes).toBe(SIZE);
  });

  it('refuses an existing overlay of another size without touching it, and a missing parent image', async () => {
    const dir = tmpRun('overlays-bad');
    const p = await secondaryPlan(dir);
    const img = qemuImg();
    const d = p.disks[0]!;

    const noParent = await prepareOverlays(p, img).catch((e: unknown) => e);
    expect(noParent).toBeInstanceOf(DiskError);
    expect((noParent as Error).message).toContain(d.imagePath);
    expect(existsSync(d.activePath!)).toBe(false);

    await img.create(d.imagePath, 'raw', SIZE);
    await img.create(d.activePath!, 'qcow2', MiB);
    const before = statSync(d.activePath!);
    await new Promise((r) => setTimeout(r, 20)); // so a rewrite would show in mtime
    const mismatch = await prepareOverlays(p, img).catch((e: unknown) => e);
    expect(mismatch).toBeInstanceOf(DiskError);
    const msg = (mismatch as Error).message;
    expect(msg).toContain(d.activePath!);
    expect(msg).toContain(`${MiB} bytes`);
    expect(msg).toContain(`${SIZE} bytes`);
    const after = statSync(d.activePath!);
    expect({ size: after.size, mtimeMs: after.mtimeMs, ino: after.ino }).toEqual({ size: before.size, mtimeMs: before.mtimeMs, ino: before.ino });
    expect((await img.info(d.activePath!)).virtualSizeBytes).toBe(MiB);
  });

  it('qemuImg reports a missing image and a failed create as DiskError', async () => {
    const dir = tmpRun('qemu-img');
    const img = qemuImg();
    const missing = join(dir, 'nope.img');
    await expect(img.info(missing)).rejects.toThrow(DiskError);
    await expect(img.info(missing)).rejects.toThrow(missing);
    const bad = join(dir, 'no-dir', 'x.qcow2');
    await expect(img.create(bad, 'qcow2', MiB)).rejects.toThrow(DiskError);
    await expect(img.create(bad, 'qcow2', MiB)).rejects.toThrow(`qemu-img create ${bad} failed`);
    const raw = join(dir, 'r.img');
    await img.create(raw, 'raw', 3 * MiB);
    expect(await img.info(raw)).toEqual({ virtualSizeBytes: 3 * MiB, format: 'raw' });
  });
});
