import { describe, it, expect } from 'vitest';
import { ConfigError } from '../../../../shared/errors.js';
import { parseDiskSpec, parseColoParams, type DiskConfig } from '../../../../shared/disk/index.js';

const COLO = 'colo,colo-params=10.0.0.2:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2';

function issuesOf(line: string, index = 0): { path: string; message: string }[] {
  try {
    parseDiskSpec(line, index);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error(`expected '${line}' to be rejected`);
}

describe('parseDiskSpec: good lines', () => {
  const good: [string, DiskConfig][] = [
    ['target=d.img', { target: 'd.img', format: 'raw', access: 'rw', backendType: 'qdisk', colo: false }],
    ['d.img', { target: 'd.img', format: 'raw', access: 'rw', backendType: 'qdisk', colo: false }],
    [
      'format=qcow2,vdev=xvda,access=ro,backendtype=phy,target=/dev/vg/d',
      { target: '/dev/vg/d', format: 'qcow2', vdev: 'xvda', access: 'ro', backendType: 'phy', colo: false },
    ],
    [
      `format=raw,target=vm1-disk0.img,${COLO}`,
      {
        target: 'vm1-disk0.img',
        format: 'raw',
        access: 'rw',
        backendType: 'qdisk',
        colo: true,
        coloParams: { host: '10.0.0.2', port: 9101, exportName: 'd0' },
        activeDisk: 'a0.qcow2',
        hiddenDisk: 'h0.qcow2',
      },
    ],
    // Last flag wins, as in xl.
    ['target=d.img,colo,no-colo', { target: 'd.img', format: 'raw', access: 'rw', backendType: 'qdisk', colo: false }],
    [
      `target=d.img,${COLO},no-colo,colo`,
      {
        target: 'd.img',
        format: 'raw',
        access: 'rw',
        backendType: 'qdisk',
        colo: true,
        coloParams: { host: '10.0.0.2', port: 9101, exportName: 'd0' },
        activeDisk: 'a0.qcow2',
        hiddenDisk: 'h0.qcow2',
      },
    ],
    // COLO keys are kept with no-colo (off), as xl does.
    [
      'target=d.img,no-colo,colo-params=h:1:exportname=x',
      {
        target: 'd.img',
        format: 'raw',
        access: 'rw',
        backendType: 'qdisk',
        colo: false,
        coloParams: { host: 'h', port: 1, exportName: 'x' },
      },
    ],
    [' target=d.img , format=qcow2 ', { target: 'd.img', format: 'qcow2', access: 'rw', backendType: 'qdisk', colo: false }],
  ];
  it.each(good)('%s', (line, expected) => {
    expect(parseDiskSpec(line, 0)).toEqual(expected);
  });
});

describe('parseDiskSpec: bad lines', () => {
  const bad: [string, string, string][] = [
    // [line, issue path, message fragment]
    ['target=d.img,colo,colo-params=h:9000:exportname=d0,hidden-disk=h.qcow2', 'active-disk', 'disk 0: needs active-disk=... for colo'],
    ['target=d.img,colo,colo-params=h:9000:exportname=d0,active-disk=a.qcow2', 'hidden-disk', 'disk 0: needs hidden-disk=... for colo'],
    ['target=d.img,colo,active-disk=a.qcow2,hidden-disk=h.qcow2', 'colo-params', 'disk 0: needs colo-params=... for colo'],
    ['format=raw', 'target', 'disk 0: needs target=...'],
    ['target=d.img,format=vmdk', 'format', "format must be one of raw, qcow2 (got 'vmdk')"],
    ['target=d.img,access=w', 'access', 'access must be one of rw, ro'],
    ['target=d.img,backendtype=qemu', 'backendtype', 'backendtype must be one of qdisk, phy, tap'],
    [`target=d.img,access=ro,${COLO}`, 'access', 'a colo disk must be writable'],
    [`target=d.img,backendtype=phy,${COLO}`, 'backendtype', 'COLO only works with the qdisk (QEMU) backend'],
    ['target=d.img,backendtype=tap,active-disk=a.qcow2', 'backendtype', 'COLO only works with the qdisk (QEMU) backend'],
    ['target=d.img,backendtype=phy,colo-params=h:1:exportname=x', 'backendtype', 'COLO only works with the qdisk'],
    ['target=d.img,backendtype=phy,colo-params=bad', 'backendtype', 'COLO only works with the qdisk'],
    ['target=d.img,bogus=1', 'bogus', "unknown key 'bogus'"],
    ['target=d.img,format=raw,format=qcow2', 'format', 'format given more than once'],
    ['target=a.img,target=b.img', 'target', 'target given more than once'],
    ['a.img,b.img', 'target', "target given more than once ('b.img')"],
    ['target=d.img,vdev=', 'vdev', 'vdev= has an empty value'],
    ['target=', 'target', 'target= has an empty value'],
    ['target=d.img,,format=raw', '', 'empty item'],
    ['target=d.img,colo=1', 'colo', 'colo is a flag and takes no value'],
    ['target=d.img,colo-params=h:9000', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=:9000:exportname=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h::exportname=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:90a0:exportname=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:0:exportname=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:65536:exportname=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:9000:exportname=', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:9000:name=x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo-params=h:9000:x', 'colo-params', 'colo-params is invalid'],
    ['target=d.img,colo,colo-params=h 1:9000:exportname=x,active-disk=a,hidden-disk=h', 'colo-params', 'must not contain whitespace'],
    ['target=d.img,colo,colo-params=h:1:exportname=x,active-disk=a,hidden-disk=a', 'hidden-disk', 'must be different files'],
    ['target=d.img,colo,colo-params=h:1:exportname=x,active-disk=d.img,hidden-disk=h', 'active-disk', "must not be the disk's own target"],
  ];
  it.each(bad)('%s', (line, path, fragment) => {
    const issues = issuesOf(line);
    const match = issues.find((i) => i.path === path && i.message.includes(fragment));
    expect(match, JSON.stringify(issues)).toBeDefined();
  });

  it('prefixes messages with the disk index', () => {
    expect(issuesOf('target=d.img,colo', 3).map((i) => i.message)).toEqual([
      'disk 3: needs colo-params=... for colo',
      'disk 3: needs active-disk=... for colo',
      'disk 3: needs hidden-disk=... for colo',
    ]);
  });

  it('reports every problem of a line at once', () => {
    const issues = issuesOf('format=vmdk,bogus=1,colo,access=ro');
    expect(issues.map((i) => i.path).sort()).toEqual(
      ['access', 'active-disk', 'bogus', 'colo-params', 'format', 'hidden-disk', 'target'].sort(),
    );
  });

  it('does not repeat an invalid colo-params as a missing one', () => {
    const issues = issuesOf('target=d.img,colo,colo-params=nope,active-disk=a,hidden-disk=h');
    expect(issues).toEqual([{ path: 'colo-params', message: expect.stringContaining('colo-params is invalid') }]);
  });

  it('throws a fatal ConfigError', () => {
    expect(() => parseDiskSpec('', 0)).toThrow(ConfigError);
    try {
      parseDiskSpec('bogus=1', 0);
    } catch (e) {
      expect((e as ConfigError).recovery).toBe('fatal');
    }
  });
});

describe('parseColoParams', () => {
  it('parses HOST:PORT:exportname=NAME', () => {
    expect(parseColoParams('node-b.example:10809:exportname=vm1-d0')).toEqual({
      host: 'node-b.example',
      port: 10809,
      exportName: 'vm1-d0',
    });
  });
  it.each(['', 'h', 'h:1', 'h:1:', ':1:exportname=x', 'h:-1:exportname=x', 'h:1:exportname', 'h:1:Exportname=x'])(
    'rejects %j',
    (text) => {
      expect(parseColoParams(text)).toBeUndefined();
    },
  );
});
