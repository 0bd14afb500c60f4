import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfigText, type Config } from '../../../../shared/config/index.js';
import { coloRestoreEnableFor, driveLayout } from '../../../../shared/disk/index.js';
import { planVm, startKindFor, type VmPlan } from '../../../../shared/qemu/vm-plan.js';

/**
 * colo_restore_enable on the restore path: a node planned as the secondary receives
 * the COLO stream, so every COLO disk gets the secondary layout; the same node
 * cold-started as primary gets the quorum layout. Plain disks stay plain either way.
 */

const DISK0 = 'format=raw,target=d0.img,colo,colo-params=127.0.0.1:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2';
const DISK1 = 'format=raw,target=d1.img,colo,colo-params=127.0.0.1:9101:exportname=d1,active-disk=a1.qcow2,hidden-disk=h1.qcow2';
const PLAIN = 'format=raw,target=p2.img,no-colo';

function pairConfig(): Config {
  const doc = {
    pair: 'demo',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    nodes: [
      { name: 'alpha', address: '127.0.0.1', initialRole: 'primary', runtimeDir: '/run/colo-a', imageDir: '/var/lib/colo-a' },
      { name: 'beta', address: '127.0.0.1', initialRole: 'secondary', runtimeDir: '/run/colo-b', imageDir: '/var/lib/colo-b' },
    ],
    vms: [{ name: 'vm1', memoryMiB: 64, migrationPort: 9100, disks: [DISK0, DISK1, PLAIN] }],
  };
  return parseConfigText(stringify(doc), 'restore.yaml');
}

/** The `-drive` option strings of a plan, in order. */
function drives(plan: VmPlan): string[] {
  return plan.args.flatMap((a, i) => (a === '-drive' ? [plan.args[i + 1] ?? ''] : []));
}

/** The `-drive` strings whose own id belongs to disk `index` (top, parent and child nodes). */
function drivesOf(plan: VmPlan, index: number): string[] {
  const own = new Set([`colo-disk${index}`, `parent${index}`, `childs${index}`]);
  return drives(plan).filter((d) => own.has(/(?:^|,)id=([^,]+)/.exec(d)?.[1] ?? ''));
}

const config = pairConfig();

describe('the restore config', () => {
  it('parses two COLO disks and one plain disk', () => {
    const vm = config.vms[0]!;
    expect(vm.disks.map((d) => d.colo)).toEqual([true, true, false]);
    expect(vm.disks.map((d) => d.coloParams?.exportName)).toEqual(['d0', 'd1', undefined]);
  });
});

describe('startKindFor feeds colo_restore_enable', () => {
  it('secondary -> colo-incoming -> restore enabled; primary -> cold -> not', () => {
    expect(startKindFor('secondary')).toBe('colo-incoming');
    expect(coloRestoreEnableFor(startKindFor('secondary'))).toBe(true);
    expect(startKindFor('primary')).toBe('cold');
    expect(coloRestoreEnableFor(startKindFor('primary'))).toBe(false);
  });

  it.each([
    [true, true, 'secondary'],
    [true, false, 'primary'],
    [false, true, 'plain'],
    [false, false, 'plain'],
  ] as const)('driveLayout(coloEnable=%s, coloRestoreEnable=%s) is %s', (coloEnable, coloRestoreEnable, layout) => {
    expect(driveLayout({ coloEnable, coloRestoreEnable })).toBe(layout);
  });
});

describe.each(['alpha', 'beta'] as const)('node %s planned as secondary (restore: receives the COLO stream)', (node) => {
  const plan = planVm(config, 'vm1', node, 'secondary', false);
  const imageDir = node === 'alpha' ? '/var/lib/colo-a' : '/var/lib/colo-b';

  it('gives every COLO disk the secondary layout (colo_restore_enable set)', () => {
    expect(plan.disks.map((d) => d.layout)).toEqual(['secondary', 'secondary', 'plain']);
    for (const d of plan.disks.filter((x) => x.disk.colo)) {
      expect(driveLayout({ coloEnable: d.disk.colo, coloRestoreEnable: true })).toBe(d.layout);
    }
  });

  it('builds the replication secondary chain for both COLO disks', () => {
    for (const index of [0, 1]) {
      const [parent, child, top] = drivesOf(plan, index);
      expect(parent).toBe(`if=none,id=parent${index},file.filename=${imageDir}/d${index}.img,driver=raw`);
      expect(child).toContain(`id=childs${index}`);
      expect(child).toContain('driver=replication');
      expect(child).toContain('mode=secondary');
      expect(child).toContain(`top-id=colo-disk${index}`);
      expect(child).toContain(`file.file.filename=${imageDir}/a${index}.qcow2`);
      expect(child).toContain(`file.backing.file.filename=${imageDir}/h${index}.qcow2`);
      expect(child).toContain(`file.backing.backing=parent${index}`);
      expect(top).toBe(`if=none,id=colo-disk${index},driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=childs${index}`);
    }
  });

  it('keeps the plain disk plain', () => {
    expect(plan.disks[2]).toMatchObject({ layout: 'plain', imagePath: `${imageDir}/p2.img`, exportName: undefined });
    expect(drivesOf(plan, 2)).toEqual([`if=none,id=colo-disk2,driver=raw,file.driver=file,file.filename=${imageDir}/p2.img`]);
  });

  it('emits the drives in disk order: 3 + 3 + 1', () => {
    const ids = drives(plan).map((d) => /(?:^|,)id=([^,]+)/.exec(d)?.[1]);
    expect(ids).toEqual(['parent0', 'childs0', 'colo-disk0', 'parent1', 'childs1', 'colo-disk1', 'colo-disk2']);
  });

  it('waits for the stream with -incoming on its own migration URI and serves NBD', () => {
    expect(plan.args.filter((a) => a === '-incoming')).toHaveLength(1);
    expect(plan.args.slice(-2)).toEqual(['-incoming', `unix:${plan.runDir}/colo-in.sock`]);
    expect(plan.migrationUri).toBe('tcp:127.0.0.1:9100');
    expect(plan.nbd).toEqual({ host: '127.0.0.1', port: 9101 });
    expect(plan.disks.map((d) => d.exportName)).toEqual(['d0', 'd1', undefined]);
  });
});

describe.each(['alpha', 'beta'] as const)('node %s planned as primary (cold start)', (node) => {
  const plan = planVm(config, 'vm1', node, 'primary', false);
  const imageDir = node === 'alpha' ? '/var/lib/colo-a' : '/var/lib/colo-b';

  it('gives every COLO disk the primary quorum layout (colo_restore_enable clear)', () => {
    expect(plan.disks.map((d) => d.layout)).toEqual(['primary', 'primary', 'plain']);
  });

  it('builds a quorum over its own image for both COLO disks, and no replication child', () => {
    expect(drives(plan)).toEqual([
      `if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=${imageDir}/d0.img,children.0.driver=raw`,
      `if=none,id=colo-disk1,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=${imageDir}/d1.img,children.0.driver=raw`,
      `if=none,id=colo-disk2,driver=raw,file.driver=file,file.filename=${imageDir}/p2.img`,
    ]);
    expect(drives(plan).join(' ')).not.toContain('replication');
    expect(drives(plan).join(' ')).not.toContain('qcow2');
  });

  it('does not wait for a stream: no -incoming', () => {
    expect(plan.args).not.toContain('-incoming');
  });
});

describe('the same node flips layouts with its planned role', () => {
  it('beta: secondary on the restore path, primary after a cold start; the plain disk never changes', () => {
    const asSecondary = planVm(config, 'vm1', 'beta', 'secondary', false);
    const asPrimary = planVm(config, 'vm1', 'beta', 'primary', false);
    expect(asSecondary.disks.map((d) => d.layout)).toEqual(['secondary', 'secondary', 'plain']);
    expect(asPrimary.disks.map((d) => d.layout)).toEqual(['primary', 'primary', 'plain']);
    expect(drivesOf(asSecondary, 2)).toEqual(drivesOf(asPrimary, 2));
    expect(asSecondary.args).toContain('-incoming');
    expect(asPrimary.args).not.toContain('-incoming');
    // Same node, same files: only the layout differs.
    expect(asSecondary.disks.map((d) => d.imagePath)).toEqual(asPrimary.disks.map((d) => d.imagePath));
    expect(asSecondary.runDir).toBe(asPrimary.runDir);
  });
});
