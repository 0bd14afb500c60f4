import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { patternDiskOf } from '../../../agent/effects/canary.js';
import { parseConfigText } from '../../../shared/config/index.js';
import { planVm } from '../../../shared/qemu/index.js';

const colo = (i: number, device?: object) => ({
  target: `d${i}.img`,
  colo: true,
  coloParams: { host: '127.0.0.1', port: 9101, exportName: `d${i}` },
  activeDisk: `a${i}.qcow2`,
  hiddenDisk: `h${i}.qcow2`,
  ...(device ? { device } : {}),
});

function plan(machine: object, disks: object[]) {
  const doc = {
    pair: 'demo',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    nodes: [
      { name: 'alpha', address: '127.0.0.1', initialRole: 'primary', runtimeDir: '/run/a', imageDir: '/img/a' },
      { name: 'beta', address: '127.0.0.1', initialRole: 'secondary', runtimeDir: '/run/b', imageDir: '/img/b' },
    ],
    vms: [{ name: 'vm1', memoryMiB: 128, migrationPort: 9100, machine, disks }],
  };
  return planVm(parseConfigText(stringify(doc), 't.yaml'), 'vm1', 'alpha', 'primary', true);
}

describe('the canary disk', () => {
  const guest = plan({ type: 'pc' }, [colo(0), colo(1, { model: 'none' })]);

  it('a VM with a guest gets one more COLO disk, replicated like the others and attached to nothing', () => {
    const canary = guest.disks.at(-1)!;
    expect(guest.disks).toHaveLength(3);
    expect(canary).toMatchObject({ index: 2, canary: true, guestDevice: 'none', layout: 'primary', imagePath: '/img/a/vm1-canary.img', exportName: 'vm1-canary' });
    expect(guest.args.filter((a) => a.startsWith('virtio-blk-pci'))).toEqual(['virtio-blk-pci,drive=colo-disk0,id=colo-vd0']);
    expect(guest.args.some((a) => a.includes('id=colo-disk2,driver=quorum'))).toBe(true);
  });

  it('drill patterns go to the canary; a write to a disk the guest sees is refused, naming why', () => {
    expect(patternDiskOf(guest, 'canary', true)).toMatchObject({ index: 2, canary: true });
    expect(patternDiskOf(guest, 0, true)).toBe('disk 0 is attached to the guest (virtio-blk-pci): a pattern would overwrite guest data; drills write to the canary disk');
    expect(patternDiskOf(guest, 0, false)).toMatchObject({ index: 0 });
    expect(patternDiskOf(guest, 1, true)).toMatchObject({ index: 1, canary: false });
    expect(patternDiskOf(guest, 7, true)).toBe('VM vm1 has no disk 7');
  });

  it('a drive-only VM (machine none) has no guest data and no canary: its first COLO disk takes the pattern', () => {
    const drives = plan({ type: 'none' }, [{ target: 'p.img', colo: false }, colo(1)]);
    expect(drives.disks.map((d) => d.canary)).toEqual([false, false]);
    expect(patternDiskOf(drives, 'canary', true)).toMatchObject({ index: 1 });
  });
});
