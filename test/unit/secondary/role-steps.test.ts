import { describe, expect, it } from 'vitest';
import { exportDisks, readinessReply, takeOver } from '../../../secondary/index.js';
import { QmpCommandError, QmpTimeoutError } from '../../../shared/errors.js';
import { planVm } from '../../../shared/qemu/index.js';
import { recordingQmp } from '../shared/qmp/recording-qmp.js';
import { quietQemu, stepsConfig } from '../shared/qmp/step-fixture.js';

const plan = planVm(stepsConfig(), 'vm1', 'beta', 'secondary', false);
const call = { timeoutMs: 1_000 };

describe('secondary role steps', () => {
  it('export: the NBD server, one writable export per COLO disk, then x-colo', async () => {
    const qmp = recordingQmp(quietQemu());
    await exportDisks(plan, qmp, call);
    expect(qmp.sent).toEqual([
      // TLS on by default: only a client with the pair's certificate, and only the peer's name, opens an export.
      { execute: 'nbd-server-start', arguments: { addr: { type: 'inet', data: { host: '127.0.0.2', port: '9101' } }, 'tls-creds': 'colo-tls-server', 'tls-authz': 'colo-tls-authz' } },
      { execute: 'nbd-server-add', arguments: { device: 'parent0', name: 'd0', writable: true } },
      { execute: 'nbd-server-add', arguments: { device: 'parent2', name: 'd2', writable: true } },
      { execute: 'migrate-set-capabilities', arguments: { capabilities: [{ capability: 'x-colo', state: true }] } },
    ]);
  });

  it('take over: a server already stopped and COLO already left (qemu refuses both) are fine', async () => {
    const qmp = recordingQmp(quietQemu({ refuses: ['nbd-server-stop', 'x-colo-lost-heartbeat'] }));
    await takeOver(qmp, recordingQmp(), plan, call);
    // This plan has device steps after the failover: the run state read behind it is stale, so it is read again.
    expect(qmp.sent).toEqual([{ execute: 'nbd-server-stop' }, { execute: 'x-colo-lost-heartbeat' }, { execute: 'query-colo-status' }, { execute: 'query-status' }, { execute: 'query-status' }]);
  });

  it('take over asks for the COLO mode and run state right behind x-colo-lost-heartbeat, before its reply: done on that reply alone', async () => {
    let release = (): void => undefined;
    const held = new Promise<object>((resolve) => (release = () => resolve({})));
    const qemu = quietQemu();
    const qmp = recordingQmp((s) => ('execute' in s && s.execute === 'x-colo-lost-heartbeat' ? held : qemu(s)));
    const done = takeOver(qmp, recordingQmp(), { ...plan, devices: [] }, call, true);
    await new Promise((r) => setTimeout(r, 5));
    expect(qmp.sent).toEqual([{ execute: 'x-colo-lost-heartbeat' }, { execute: 'query-colo-status' }, { execute: 'query-status' }]);
    release();
    await done;
    expect(qmp.sent).toHaveLength(3);
  });

  it('take over reads the run state again, and resumes the VM, when the read behind the failover still saw it paused', async () => {
    let reads = 0;
    const qemu = quietQemu();
    const qmp = recordingQmp((s) => {
      if ('execute' in s && s.execute === 'query-status') return ++reads === 1 ? { running: false, status: 'paused' } : reads === 2 ? { running: false, status: 'paused' } : { running: true, status: 'running' };
      return qemu(s);
    });
    await takeOver(qmp, recordingQmp(), { ...plan, devices: [] }, call, true);
    expect(qmp.sent).toEqual([{ execute: 'x-colo-lost-heartbeat' }, { execute: 'query-colo-status' }, { execute: 'query-status' }, { execute: 'query-status' }, { execute: 'cont' }, { execute: 'query-status' }]);
  });

  it('take over matches the error class, not its text: a timeout or a missing command is not "already out of COLO"', async () => {
    for (const error of [new QmpTimeoutError('x-colo-lost-heartbeat', 1_000), new QmpCommandError('x-colo-lost-heartbeat', 'CommandNotFound', 'COLO not compiled in')]) {
      const qmp = recordingQmp(quietQemu({ fail: { 'x-colo-lost-heartbeat': error } }));
      await expect(takeOver(qmp, recordingQmp(), plan, call)).rejects.toBe(error);
    }
  });
});

describe('readiness reply', () => {
  it('refuses a primary whose qemu runs under another accelerator, naming both (qemu would die loading the stream)', () => {
    const sizes = new Map([[0, 1024]]);
    expect(readinessReply(plan, true, 'ready', sizes, { disks: [{ index: 0, sizeBytes: 1024 }], accel: 'tcg' }).ready).toBe(true);
    expect(() => readinessReply(plan, true, 'ready', sizes, { disks: [{ index: 0, sizeBytes: 1024 }], accel: 'kvm' })).toThrow(
      /secondary beta runs qemu under tcg but the primary under kvm/,
    );
  });
});
