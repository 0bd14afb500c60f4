import { describe, expect, it } from 'vitest';
import {
  auditPrimaryDisk,
  auditSecondaryDisk,
  combineAudit,
  diskIds,
  type AuditInput,
  type DiskAudit,
  type PrimaryDiskExpectation,
  type SecondaryDiskExpectation,
} from '../../../../shared/disk/index.js';

type Edge = readonly [parent: number, child: number, name: string];
type Node = readonly [id: number, name: string, type: string];
type Named = readonly [nodeName: string, drv: string, file: string, ro?: boolean];

/** The replies of x-debug-query-block-graph, query-named-block-nodes and query-block-exports, as shared/qmp hands them over. */
function reply(edges: readonly Edge[], nodes: readonly Node[], named: readonly Named[], exports: AuditInput['exports'] = []): AuditInput {
  return {
    graph: {
      nodes: nodes.map(([id, name, type]) => ({ id, name, type })),
      edges: edges.map(([parent, child, name]) => ({ parent, child, name })),
    },
    named: named.map(([nodeName, drv, file, ro = false]) => ({ nodeName, drv, file, ro })),
    exports,
  };
}

const without = <T>(list: readonly T[], drop: (x: T) => boolean): T[] => list.filter((x) => !drop(x));

// ---- A real primary (qemu 7.2): the former secondary after a takeover and a restore.
// Its quorum colo-disk0 has the old replication child (mode secondary) as children.0
// and the new replication0 (mode primary) over the NBD client replnbd0 as children.1.

const REPL0_FILE = 'json:{"driver": "replication", "mode": "primary", "file": {"port": "45165", "host": "127.0.0.1", "driver": "nbd", "export": "vm1-d0"}}';
const B_IMG = '/var/lib/colo-b/vm1-d0.img';

const PRIMARY_EDGES: readonly Edge[] = [
  [8, 9, 'file'],
  [6, 4, 'children.0'],
  [6, 8, 'children.1'],
  [4, 2, 'file'],
  [2, 7, 'file'],
  [5, 6, 'root'],
  [3, 4, 'root'],
  [1, 2, 'root'],
];
const PRIMARY_NODES: readonly Node[] = [
  [8, 'replication0', 'block-driver'],
  [9, 'replnbd0', 'block-driver'],
  [6, '#block757', 'block-driver'],
  [4, '#block666', 'block-driver'],
  [2, '#block183', 'block-driver'],
  [7, '#block089', 'block-driver'],
  [5, 'colo-disk0', 'block-backend'],
  [3, 'childs0', 'block-backend'],
  [1, 'parent0', 'block-backend'],
];
const PRIMARY_NAMED: readonly Named[] = [
  ['replication0', 'replication', REPL0_FILE],
  ['replnbd0', 'nbd', 'nbd://127.0.0.1:45165/vm1-d0'],
  ['#block757', 'quorum', `json:{"children": [{"driver": "replication", "mode": "secondary", "top-id": "colo-disk0"}, ${REPL0_FILE.slice(5)}], "driver": "quorum", "vote-threshold": 1}`],
  ['#block666', 'replication', `json:{"driver": "replication", "mode": "secondary", "top-id": "colo-disk0", "file": {"driver": "raw", "file": {"driver": "file", "filename": "${B_IMG}"}}}`],
  ['#block183', 'raw', B_IMG],
  ['#block089', 'file', B_IMG],
];

const primaryReply = (edges = PRIMARY_EDGES, nodes = PRIMARY_NODES, named = PRIMARY_NAMED) => reply(edges, nodes, named);

const PRIMARY_WANT: PrimaryDiskExpectation = { index: 0, ids: diskIds(0), target: { host: '127.0.0.1', port: 45165, exportName: 'vm1-d0' } };

describe('auditPrimaryDisk on a real qemu 7.2 primary', () => {
  it('replicates: a quorum over the local child and replication0 (mode primary) writing to the expected NBD export', () => {
    expect(auditPrimaryDisk(primaryReply(), PRIMARY_WANT)).toEqual({
      index: 0,
      state: 'replicating',
      reason: 'disk 0: quorum colo-disk0 writes the local image and 127.0.0.1:45165/vm1-d0',
    });
  });

  it('is degraded when the quorum has only children.0 (the replication child was removed): writes reach only the local image', () => {
    const edges = without(PRIMARY_EDGES, ([, , n]) => n === 'children.1');
    const a = auditPrimaryDisk(primaryReply(edges), PRIMARY_WANT);
    // children.0 is a replication node too, but in mode secondary: it does not count.
    expect(a).toEqual({
      index: 0,
      state: 'degraded',
      reason: 'disk 0: the quorum colo-disk0 has no replication child (children: children.0=#block666): writes reach only the local image',
    });
  });

  it('says "none" when the quorum has no child at all', () => {
    const edges = without(PRIMARY_EDGES, ([p, , n]) => p === 6 && n.startsWith('children.'));
    expect(auditPrimaryDisk(primaryReply(edges), PRIMARY_WANT).reason).toBe(
      'disk 0: the quorum colo-disk0 has no replication child (children: none): writes reach only the local image',
    );
  });

  it.each([
    ['host', { host: '10.0.0.2', port: 45165, exportName: 'vm1-d0' }, '10.0.0.2:45165/vm1-d0'],
    ['port', { host: '127.0.0.1', port: 45166, exportName: 'vm1-d0' }, '127.0.0.1:45166/vm1-d0'],
    ['export', { host: '127.0.0.1', port: 45165, exportName: 'vm1-d1' }, '127.0.0.1:45165/vm1-d1'],
  ] as const)('is degraded when the NBD target %s differs from the secondary export', (_what, target, wanted) => {
    const a = auditPrimaryDisk(primaryReply(), { ...PRIMARY_WANT, target });
    expect(a).toEqual({
      index: 0,
      state: 'degraded',
      reason: `disk 0: replication child writes to 127.0.0.1:45165/vm1-d0, but the secondary exports ${wanted}`,
    });
  });

  it('is degraded when the drive colo-disk0 is missing from qemu', () => {
    const nodes = without(PRIMARY_NODES, ([, name]) => name === 'colo-disk0');
    expect(auditPrimaryDisk(primaryReply(PRIMARY_EDGES, nodes), PRIMARY_WANT)).toEqual({
      index: 0,
      state: 'degraded',
      reason: 'disk 0: no drive colo-disk0 in qemu',
    });
  });

  it('names the disk index it was asked about', () => {
    const a = auditPrimaryDisk(primaryReply(), { index: 3, ids: diskIds(3), target: PRIMARY_WANT.target });
    expect(a).toEqual({ index: 3, state: 'degraded', reason: 'disk 3: no drive colo-disk3 in qemu' });
  });

  it('is degraded when the drive is not a quorum', () => {
    const named = PRIMARY_NAMED.map((n): Named => (n[0] === '#block757' ? ['#block757', 'raw', B_IMG] : n));
    expect(auditPrimaryDisk(primaryReply(PRIMARY_EDGES, PRIMARY_NODES, named), PRIMARY_WANT).reason).toBe('disk 0: colo-disk0 is a raw node, not a quorum');
  });

  it('is degraded when no NBD client sits under the replication child', () => {
    const edges = without(PRIMARY_EDGES, ([p, c]) => p === 8 && c === 9);
    expect(auditPrimaryDisk(primaryReply(edges), PRIMARY_WANT)).toEqual({
      index: 0,
      state: 'degraded',
      reason: 'disk 0: replication child replication0 has no NBD client under it',
    });
  });

  it('is degraded when the quorum has a third child', () => {
    const edges: Edge[] = [...PRIMARY_EDGES, [6, 2, 'children.2']];
    expect(auditPrimaryDisk(primaryReply(edges), PRIMARY_WANT).reason).toBe(
      'disk 0: the quorum colo-disk0 has 3 children (1 replication), expected the local one and one replication child',
    );
  });
});

// ---- A real secondary (qemu 7.2) while COLO runs: the NBD server exports #block146 (parent0's
// raw node, under the copy-before-write filter the replication's backup job put over it),
// and colo-disk0's quorum is over #block640 (replication, mode secondary) over the active
// image #block307, backed by the hidden image #block548, backed by #block146.

const DISK = '/var/lib/colo-b/vm1-d0.img';
const ACTIVE = '/var/lib/colo-b/vm1-a0.qcow2';
const HIDDEN = '/var/lib/colo-b/vm1-h0.qcow2';

const SECONDARY_EDGES: readonly Edge[] = [
  [2, 11, 'file'],
  [2, 9, 'target'],
  [6, 4, 'children.0'],
  [4, 13, 'file'],
  [4, 9, 'hidden disk'],
  [4, 2, 'secondary disk'],
  [9, 14, 'file'],
  [9, 11, 'backing'],
  [13, 12, 'file'],
  [13, 9, 'backing'],
  [11, 10, 'file'],
  [8, 2, 'main node'],
  [8, 9, 'target'],
  [7, 2, 'root'],
  [5, 6, 'root'],
  [3, 4, 'root'],
  [1, 2, 'root'],
];
const SECONDARY_NODES: readonly Node[] = [
  [2, '#block813', 'block-driver'],
  [6, '#block741', 'block-driver'],
  [4, '#block640', 'block-driver'],
  [9, '#block548', 'block-driver'],
  [14, '#block469', 'block-driver'],
  [13, '#block307', 'block-driver'],
  [12, '#block297', 'block-driver'],
  [11, '#block146', 'block-driver'],
  [10, '#block073', 'block-driver'],
  [8, '', 'block-job'],
  [7, '', 'block-backend'],
  [5, 'colo-disk0', 'block-backend'],
  [3, 'childs0', 'block-backend'],
  [1, 'parent0', 'block-backend'],
];
const HIDDEN_JSON = `json:{"backing": {"driver": "raw", "file": {"driver": "file", "filename": "${DISK}"}}, "driver": "qcow2", "file": {"driver": "file", "filename": "${HIDDEN}"}}`;
const SECONDARY_NAMED: readonly Named[] = [
  ['#block813', 'copy-before-write', DISK],
  ['#block741', 'quorum', `json:{"children": [{"driver": "replication", "mode": "secondary", "top-id": "colo-disk0"}], "driver": "quorum", "vote-threshold": 1}`],
  ['#block640', 'replication', `json:{"driver": "replication", "mode": "secondary", "top-id": "colo-disk0", "file": {"driver": "qcow2", "file": {"driver": "file", "filename": "${ACTIVE}"}}}`],
  ['#block548', 'qcow2', HIDDEN_JSON],
  ['#block469', 'file', HIDDEN],
  ['#block307', 'qcow2', `json:{"backing": ${HIDDEN_JSON.slice(5)}, "driver": "qcow2", "file": {"driver": "file", "filename": "${ACTIVE}"}}`],
  ['#block297', 'file', ACTIVE],
  ['#block146', 'raw', DISK],
  ['#block073', 'file', DISK],
];
const SECONDARY_EXPORTS = [{ type: 'nbd', nodeName: '#block146' }];

const secondaryReply = (o: { edges?: readonly Edge[]; named?: readonly Named[]; exports?: AuditInput['exports'] } = {}) =>
  reply(o.edges ?? SECONDARY_EDGES, SECONDARY_NODES, o.named ?? SECONDARY_NAMED, o.exports ?? SECONDARY_EXPORTS);

const SECONDARY_WANT: SecondaryDiskExpectation = { index: 0, ids: diskIds(0), activePath: ACTIVE, hiddenPath: HIDDEN };

describe('auditSecondaryDisk on a real qemu 7.2 secondary', () => {
  it('replicates: parent0 exported writable, replication over the active and hidden images', () => {
    expect(auditSecondaryDisk(secondaryReply(), SECONDARY_WANT)).toEqual({
      index: 0,
      state: 'replicating',
      reason: 'disk 0: parent0 exported writable, replication over active and hidden images',
    });
  });

  it('accepts the export on the filter node parent0 sits on as well', () => {
    expect(auditSecondaryDisk(secondaryReply({ exports: [{ type: 'nbd', nodeName: '#block813' }] }), SECONDARY_WANT).state).toBe('replicating');
  });

  it.each([
    ['no export at all (NBD server stopped)', []],
    ['an export of another node', [{ type: 'nbd', nodeName: '#block297' }]],
    ['an export of parent0 that is not NBD', [{ type: 'fuse', nodeName: '#block146' }]],
  ] as const)('is degraded with %s', (_label, exports) => {
    expect(auditSecondaryDisk(secondaryReply({ exports }), SECONDARY_WANT)).toEqual({
      index: 0,
      state: 'degraded',
      reason: 'disk 0: parent0 is not exported over NBD (no NBD server, or the export is gone)',
    });
  });

  it('is degraded when the replication node is over another active image than expected', () => {
    const a = auditSecondaryDisk(secondaryReply(), { ...SECONDARY_WANT, activePath: '/var/lib/colo-b/other-a0.qcow2' });
    expect(a).toEqual({
      index: 0,
      state: 'degraded',
      reason: `disk 0: replication node's top is ${ACTIVE}, not the active image /var/lib/colo-b/other-a0.qcow2`,
    });
  });

  it('is degraded when the active image has no file child to read its path from', () => {
    const edges = without(SECONDARY_EDGES, ([p, , n]) => p === 4 && n === 'file');
    expect(auditSecondaryDisk(secondaryReply({ edges }), SECONDARY_WANT).reason).toBe(`disk 0: replication node's top is missing, not the active image ${ACTIVE}`);
  });

  it('is degraded when the active image is backed by another hidden image', () => {
    const a = auditSecondaryDisk(secondaryReply(), { ...SECONDARY_WANT, hiddenPath: '/var/lib/colo-b/other-h0.qcow2' });
    expect(a.state).toBe('degraded');
    expect(a.reason).toBe(`disk 0: active image is backed by ${HIDDEN}, not the hidden image /var/lib/colo-b/other-h0.qcow2`);
  });

  it('is degraded when the hidden image is not backed by parent0', () => {
    const edges = without(SECONDARY_EDGES, ([p, , n]) => p === 9 && n === 'backing');
    expect(auditSecondaryDisk(secondaryReply({ edges }), SECONDARY_WANT)).toEqual({
      index: 0,
      state: 'degraded',
      reason: 'disk 0: hidden image is not backed by parent0',
    });
  });

  it('is degraded when parent0 is read-only', () => {
    const named = SECONDARY_NAMED.map((n): Named => (n[0] === '#block146' ? ['#block146', 'raw', DISK, true] : n));
    expect(auditSecondaryDisk(secondaryReply({ named }), SECONDARY_WANT).reason).toBe('disk 0: parent0 is read-only: the primary cannot write it');
  });

  it('is degraded when the quorum is not over one replication node in mode secondary (a primary graph)', () => {
    const a = auditSecondaryDisk(primaryReply(), SECONDARY_WANT);
    expect(a).toEqual({ index: 0, state: 'degraded', reason: 'disk 0: the quorum colo-disk0 is not over one replication node in mode secondary' });
  });

  it('is degraded when the drive colo-disk0 is missing', () => {
    const r = reply(SECONDARY_EDGES, without(SECONDARY_NODES, ([, name]) => name === 'colo-disk0'), SECONDARY_NAMED, SECONDARY_EXPORTS);
    expect(auditSecondaryDisk(r, SECONDARY_WANT).reason).toBe('disk 0: no drive colo-disk0 in qemu');
  });
});

describe('combineAudit', () => {
  const ok0: DiskAudit = { index: 0, state: 'replicating', reason: 'disk 0: fine' };
  const ok1: DiskAudit = { index: 1, state: 'replicating', reason: 'disk 1: fine' };
  const bad1: DiskAudit = { index: 1, state: 'degraded', reason: 'disk 1: the quorum colo-disk1 has no replication child' };

  it('replicates when qemu is in the expected COLO mode and every disk replicates', () => {
    expect(combineAudit('primary', 'primary', [ok0, ok1])).toEqual({
      state: 'replicating',
      reason: "every COLO disk replicates (2 checked in qemu's block graph)",
      disks: [ok0, ok1],
    });
  });

  it('is degraded with the first failing disk as the reason', () => {
    expect(combineAudit('secondary', 'secondary', [ok0, bad1])).toEqual({ state: 'degraded', reason: bad1.reason, disks: [ok0, bad1] });
  });

  it.each([
    ['none', 'primary'],
    ['secondary', 'primary'],
    ['primary', 'secondary'],
  ] as const)('COLO mode %s where %s is expected: every disk degraded, whatever the graph says', (mode, expected) => {
    expect(combineAudit(mode, expected, [ok0, ok1])).toEqual({
      state: 'degraded',
      reason: `qemu's COLO mode is ${mode}, not ${expected}`,
      disks: [
        { index: 0, state: 'degraded', reason: `disk 0: COLO is not running (${mode})` },
        { index: 1, state: 'degraded', reason: `disk 1: COLO is not running (${mode})` },
      ],
    });
  });

  it('says none with no COLO disk, whatever the mode', () => {
    expect(combineAudit('primary', 'primary', [])).toEqual({ state: 'none', reason: 'no COLO disk', disks: [] });
    expect(combineAudit('none', 'secondary', [])).toEqual({ state: 'none', reason: 'no COLO disk', disks: [] });
  });

  it('combines real audits end to end', () => {
    const p = combineAudit('primary', 'primary', [auditPrimaryDisk(primaryReply(), PRIMARY_WANT)]);
    expect(p.state).toBe('replicating');
    const s = combineAudit('secondary', 'secondary', [auditSecondaryDisk(secondaryReply({ exports: [] }), SECONDARY_WANT)]);
    expect(s).toMatchObject({ state: 'degraded', reason: 'disk 0: parent0 is not exported over NBD (no NBD server, or the export is gone)' });
  });
});
