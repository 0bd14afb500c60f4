import { describe, it, expect } from 'vitest';
import { ConfigError } from '../../../../shared/errors.js';
import {
  buildDriveArgs,
  buildReplicationDriveAdd,
  coloRestoreEnableFor,
  diskIds,
  driveLayout,
  escapeQemuOptionValue,
} from '../../../../shared/disk/index.js';

describe('diskIds', () => {
  it('derives every id from the index', () => {
    expect(diskIds(0)).toEqual({ top: 'colo-disk0', parent: 'parent0', child: 'childs0', replicationNode: 'replication0', nbdNode: 'replnbd0' });
    expect(diskIds(7)).toEqual({ top: 'colo-disk7', parent: 'parent7', child: 'childs7', replicationNode: 'replication7', nbdNode: 'replnbd7' });
  });
  it.each([-1, 1.5, Number.NaN])('rejects index %s', (i) => {
    expect(() => diskIds(i)).toThrow(RangeError);
  });
});

describe('driveLayout', () => {
  it.each([
    [false, false, 'plain'],
    [false, true, 'plain'],
    [true, false, 'primary'],
    [true, true, 'secondary'],
  ] as const)('colo_enable=%s colo_restore_enable=%s -> %s', (coloEnable, coloRestoreEnable, layout) => {
    expect(driveLayout({ coloEnable, coloRestoreEnable })).toBe(layout);
  });
});

describe('coloRestoreEnableFor', () => {
  it('is set only when restoring from a COLO checkpoint stream', () => {
    expect(coloRestoreEnableFor('cold')).toBe(false);
    expect(coloRestoreEnableFor('colo-incoming')).toBe(true);
    expect(coloRestoreEnableFor('other-restore')).toBe(false);
  });
});

describe('buildDriveArgs', () => {
  it('plain', () => {
    expect(buildDriveArgs({ index: 0, layout: 'plain', imagePath: '/img/d0.img', format: 'raw' })).toEqual([
      '-drive',
      'if=none,id=colo-disk0,driver=raw,file.driver=file,file.filename=/img/d0.img',
    ]);
  });

  it('plain, read-only qcow2', () => {
    expect(
      buildDriveArgs({ index: 2, layout: 'plain', imagePath: '/img/d2.qcow2', format: 'qcow2', readOnly: true }),
    ).toEqual(['-drive', 'if=none,id=colo-disk2,driver=qcow2,file.driver=file,file.filename=/img/d2.qcow2,read-only=on']);
  });

  it('primary', () => {
    expect(buildDriveArgs({ index: 0, layout: 'primary', imagePath: '/img/d0.img', format: 'raw' })).toEqual([
      '-drive',
      'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/img/d0.img,children.0.driver=raw',
    ]);
  });

  it('secondary', () => {
    expect(
      buildDriveArgs({
        index: 0,
        layout: 'secondary',
        imagePath: '/img/d0.img',
        format: 'raw',
        activePath: '/ram/a0.qcow2',
        hiddenPath: '/ram/h0.qcow2',
      }),
    ).toEqual([
      '-drive',
      'if=none,id=parent0,file.filename=/img/d0.img,driver=raw',
      '-drive',
      'if=none,id=childs0,driver=replication,mode=secondary,file.driver=qcow2,top-id=colo-disk0,file.file.filename=/ram/a0.qcow2,file.backing.driver=qcow2,file.backing.file.filename=/ram/h0.qcow2,file.backing.backing=parent0',
      '-drive',
      'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=childs0',
    ]);
  });

  it('two disks: the second uses index-1 ids', () => {
    const primary = [0, 1].flatMap((index) =>
      buildDriveArgs({ index, layout: 'primary', imagePath: `/img/d${index}.qcow2`, format: 'qcow2' }),
    );
    expect(primary).toEqual([
      '-drive',
      'if=none,id=colo-disk0,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/img/d0.qcow2,children.0.driver=qcow2',
      '-drive',
      'if=none,id=colo-disk1,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0.file.filename=/img/d1.qcow2,children.0.driver=qcow2',
    ]);
    expect(
      buildDriveArgs({ index: 1, layout: 'secondary', imagePath: '/i/d1', format: 'qcow2', activePath: '/a1', hiddenPath: '/h1' }),
    ).toEqual([
      '-drive',
      'if=none,id=parent1,file.filename=/i/d1,driver=qcow2',
      '-drive',
      'if=none,id=childs1,driver=replication,mode=secondary,file.driver=qcow2,top-id=colo-disk1,file.file.filename=/a1,file.backing.driver=qcow2,file.backing.file.filename=/h1,file.backing.backing=parent1',
      '-drive',
      'if=none,id=colo-disk1,driver=quorum,read-pattern=fifo,vote-threshold=1,children.0=childs1',
    ]);
  });

  it('escapes commas in every path', () => {
    expect(escapeQemuOptionValue('a,b,,c')).toBe('a,,b,,,,c');
    expect(buildDriveArgs({ index: 0, layout: 'plain', imagePath: '/img/a,b.img', format: 'raw' })).toEqual([
      '-drive',
      'if=none,id=colo-disk0,driver=raw,file.driver=file,file.filename=/img/a,,b.img',
    ]);
    expect(buildDriveArgs({ index: 0, layout: 'primary', imagePath: '/x,y', format: 'raw' })[1]).toContain(
      'children.0.file.filename=/x,,y,children.0.driver=raw',
    );
    const secondary = buildDriveArgs({
      index: 0,
      layout: 'secondary',
      imagePath: '/p,0',
      format: 'raw',
      activePath: '/a,0',
      hiddenPath: '/h,0',
    });
    expect(secondary[1]).toBe('if=none,id=parent0,file.filename=/p,,0,driver=raw');
    expect(secondary[3]).toContain('file.file.filename=/a,,0,');
    expect(secondary[3]).toContain('file.backing.file.filename=/h,,0,');
  });

  it('secondary without active or hidden disk names what is missing', () => {
    try {
      buildDriveArgs({ index: 1, layout: 'secondary', imagePath: '/i', format: 'raw' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).issues.map((i) => i.message)).toEqual([
        'disk 1: needs active-disk=... for colo',
        'disk 1: needs hidden-disk=... for colo',
      ]);
    }
  });

  it.each(['primary', 'secondary'] as const)('refuses a read-only %s disk', (layout) => {
    expect(() =>
      buildDriveArgs({ index: 0, layout, imagePath: '/i', format: 'raw', activePath: '/a', hiddenPath: '/h', readOnly: true }),
    ).toThrow(/cannot be read-only/);
  });
});

describe('buildReplicationDriveAdd', () => {
  it('builds the HMP drive_add for the NBD replication child', () => {
    expect(buildReplicationDriveAdd({ index: 0, host: '10.0.0.2', port: 9101, exportName: 'vm1-d0' })).toBe(
      'drive_add -n buddy driver=replication,mode=primary,file.driver=nbd,file.host=10.0.0.2,file.port=9101,file.export=vm1-d0,file.node-name=replnbd0,node-name=replication0',
    );
  });
  it('uses the index in the node name and escapes commas', () => {
    expect(buildReplicationDriveAdd({ index: 3, host: 'h', port: 1, exportName: 'a,b' })).toBe(
      'drive_add -n buddy driver=replication,mode=primary,file.driver=nbd,file.host=h,file.port=1,file.export=a,,b,file.node-name=replnbd3,node-name=replication3',
    );
  });
});
