import { describe, expect, it } from 'vitest';
import { carryOnAlone, cleanUpResync, setMirrorSpeed, startMirror } from '../../../primary/index.js';
import { addReplicationNodes, linkReplicationNodes } from '../../../primary/steps.js';
import { QmpConnectionError, QmpTimeoutError } from '../../../shared/errors.js';
import { planVm } from '../../../shared/qemu/index.js';
import { recordingQmp } from '../shared/qmp/recording-qmp.js';
import { peer, quietQemu, stepsConfig } from '../shared/qmp/step-fixture.js';

const plan = planVm(stepsConfig(), 'vm1', 'alpha', 'primary', false);
const call = { timeoutMs: 1_000 };
const dropChild = (i: number) => [
  { execute: 'x-blockdev-change', arguments: { parent: `colo-disk${i}`, child: 'children.1' } },
  { hmp: `drive_del replication${i}` },
];

describe('primary role steps run every device sequence, plain disks left out', () => {
  it('attach and link: drive_add then x-blockdev-change per COLO disk', async () => {
    const qmp = recordingQmp(quietQemu());
    await addReplicationNodes(qmp, plan, peer, call);
    await linkReplicationNodes(qmp, plan, call);
    expect(qmp.sent.map((s) => ('hmp' in s ? s.hmp.split(',').at(-1) : s))).toEqual([
      'node-name=replication0',
      'node-name=replication2',
      { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', node: 'replication0' } },
      { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk2', node: 'replication2' } },
    ]);
  });

  it('resync: per COLO disk, a fresh NBD target over TLS and a mirror onto it; a new speed per job', async () => {
    const qmp = recordingQmp(quietQemu());
    await startMirror(qmp, plan, peer, 0, call);
    await setMirrorSpeed(qmp, plan, 9, call);
    const a = (s: (typeof qmp.sent)[number]) => ('execute' in s ? s.arguments ?? {} : {}) as Record<string, unknown>;
    expect(qmp.sent.map((s) => ('execute' in s ? [s.execute, a(s).device ?? a(s)['node-name'], a(s)['tls-creds'] ?? null] : s))).toEqual([
      ['blockdev-del', 'resync0-target', null],
      ['blockdev-add', 'resync0-target', 'colo-tls-client'],
      ['blockdev-mirror', 'colo-disk0', null],
      ['blockdev-del', 'resync2-target', null],
      ['blockdev-add', 'resync2-target', 'colo-tls-client'],
      ['blockdev-mirror', 'colo-disk2', null],
      ['block-job-set-speed', 'resync0', null],
      ['block-job-set-speed', 'resync2', null],
    ]);
  });

  it('carry on alone: yank out-of-band, one instance per yank (each may be gone), then drop each replication child, tolerating children never attached', async () => {
    const qmp = recordingQmp(quietQemu({ refuses: ['x-blockdev-change', 'drive_del'] }));
    const oob = recordingQmp(quietQemu({ refuses: ['yank'] }));
    await carryOnAlone(qmp, oob, plan, call);
    expect(oob.sent).toEqual([
      { oob: 'yank', arguments: { instances: [{ type: 'block-node', 'node-name': 'replnbd0' }] } },
      { oob: 'yank', arguments: { instances: [{ type: 'block-node', 'node-name': 'replnbd2' }] } },
      { oob: 'yank', arguments: { instances: [{ type: 'migration' }] } },
    ]);
    // COLO left already (qemu refuses the failover): the mode and run state asked behind it close the step.
    expect(qmp.sent).toEqual([...dropChild(0), ...dropChild(2), { execute: 'x-colo-lost-heartbeat' }, { execute: 'query-colo-status' }, { execute: 'query-status' }]);
  });

  it('carry on alone asks for the COLO mode and run state right behind x-colo-lost-heartbeat, before its reply, and reads both again while COLO still ran', async () => {
    let release = (): void => undefined;
    const held = new Promise<object>((resolve) => (release = () => resolve({})));
    let coloReads = 0;
    const qemu = quietQemu();
    const qmp = recordingQmp((s) => {
      if ('execute' in s && s.execute === 'x-colo-lost-heartbeat') return held;
      if ('execute' in s && s.execute === 'query-colo-status') return ++coloReads === 1 ? { mode: 'primary', reason: 'none' } : { mode: 'none', reason: 'request' };
      return qemu(s);
    });
    const done = carryOnAlone(qmp, recordingQmp(quietQemu()), plan, call, true);
    await new Promise((r) => setTimeout(r, 5));
    expect(qmp.sent).toEqual([{ execute: 'x-colo-lost-heartbeat' }, { execute: 'query-colo-status' }, { execute: 'query-status' }]);
    release();
    await done;
    // COLO still ran when the mode was read behind the failover: the run state read with it is stale too.
    expect(qmp.sent.slice(3)).toEqual([{ execute: 'query-colo-status' }, { execute: 'query-status' }]);
  });

  it('carry on alone lets a yank that got no answer through', async () => {
    const oob = recordingQmp(quietQemu({ fail: { yank: new QmpTimeoutError('yank', 1_000) } }));
    await expect(carryOnAlone(recordingQmp(quietQemu()), oob, plan, call)).rejects.toThrow(QmpTimeoutError);
  });

  it('clean-up: cancel, unlink and delete per COLO disk, migrate_cancel, all "already so" when absent', async () => {
    const qmp = recordingQmp(quietQemu({ refuses: ['block-job-cancel', 'blockdev-del', 'x-blockdev-change', 'drive_del'] }));
    await cleanUpResync(qmp, plan, call);
    const cancel = (i: number) => ({ execute: 'block-job-cancel', arguments: { device: `resync${i}`, force: true } });
    const closeTarget = (i: number) => ({ execute: 'blockdev-del', arguments: { 'node-name': `resync${i}-target` } });
    expect(qmp.sent).toEqual([cancel(0), closeTarget(0), ...dropChild(0), cancel(2), closeTarget(2), ...dropChild(2), { execute: 'migrate_cancel' }, { execute: 'query-status' }]);
  });

  it('clean-up stops at a timeout or a lost connection instead of swallowing it', async () => {
    for (const error of [new QmpTimeoutError('block-job-cancel', 1_000), new QmpConnectionError('QMP connection lost')]) {
      const qmp = recordingQmp(quietQemu({ fail: { 'block-job-cancel': error } }));
      await expect(cleanUpResync(qmp, plan, call, { resume: false })).rejects.toBe(error);
      expect(qmp.sent).toHaveLength(1);
    }
  });
});
