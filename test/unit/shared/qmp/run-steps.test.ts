import { describe, expect, it } from 'vitest';
import { AbortedError, HmpCommandError, QmpCommandError, QmpConnectionError, QmpTimeoutError } from '../../../../shared/errors.js';
import { isQemuRefusal, runQmpSteps, yankStep, type QmpStep } from '../../../../shared/qmp/index.js';
import { recordingQmp } from './recording-qmp.js';

const call = { timeoutMs: 1_000 };

describe('runQmpSteps', () => {
  it('sends each step in order in its own form: execute, exec-oob, HMP', async () => {
    const qmp = recordingQmp();
    await runQmpSteps(qmp, [{ execute: 'stop' }, { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', node: 'replication0' } }, yankStep([{ type: 'migration' }]), { hmp: 'drive_del replication0' }], call);
    expect(qmp.sent).toEqual([
      { execute: 'stop' },
      { execute: 'x-blockdev-change', arguments: { parent: 'colo-disk0', node: 'replication0' } },
      { oob: 'yank', arguments: { instances: [{ type: 'migration' }] } },
      { hmp: 'drive_del replication0' },
    ]);
  });

  it('a refusal fails a step by default and stops the sequence', async () => {
    const qmp = recordingQmp((s) => ('execute' in s && s.execute === 'a' ? new QmpCommandError('a', 'GenericError', 'no') : {}));
    await expect(runQmpSteps(qmp, [{ execute: 'a' }, { execute: 'b' }], call)).rejects.toThrow(QmpCommandError);
    expect(qmp.sent).toEqual([{ execute: 'a' }]);
  });

  it('an HMP reply with text is a refusal (HmpCommandError, same message as before)', async () => {
    const qmp = recordingQmp(() => "Device 'replication0' not found\r\n");
    const error = await runQmpSteps(qmp, [{ hmp: 'drive_del replication0' }], call).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HmpCommandError);
    expect((error as Error).message).toBe("HMP 'drive_del' failed: Device 'replication0' not found");
  });

  it.each([
    ['GenericError', new QmpCommandError('x-blockdev-change', 'GenericError', "Node 'colo-disk0' does not have child 'children.1'")],
    ['DeviceNotActive', new QmpCommandError('block-job-cancel', 'DeviceNotActive', "Block job 'resync0' not found")],
    ['DeviceNotFound', new QmpCommandError('yank', 'DeviceNotFound', 'Instance not found')],
    ['an HMP text reply', "Device 'replication0' not found\r\n"],
  ])('"already so" tolerates a refusal (%s) and carries on', async (_what, answer) => {
    let first = true;
    const qmp = recordingQmp(() => (first ? ((first = false), answer) : {}));
    const step: QmpStep = typeof answer === 'string' ? { hmp: 'drive_del replication0', ifRefused: 'alreadySo' } : { execute: 'x', ifRefused: 'alreadySo' };
    await runQmpSteps(qmp, [step, { execute: 'next' }], call);
    expect(qmp.sent.at(-1)).toEqual({ execute: 'next' });
  });

  it.each([
    ['a timeout', new QmpTimeoutError('block-job-cancel', 1_000)],
    ['a lost connection', new QmpConnectionError('QMP connection lost')],
    ['an abort', new AbortedError('QMP block-job-cancel')],
    ['a qemu without the command', new QmpCommandError('block-job-cancel', 'CommandNotFound', 'The command block-job-cancel has not been found')],
  ])('"already so" lets %s through', async (_what, error) => {
    const qmp = recordingQmp(() => error);
    await expect(runQmpSteps(qmp, [{ execute: 'block-job-cancel', ifRefused: 'alreadySo' }, { execute: 'next' }], call)).rejects.toBe(error);
    expect(qmp.sent).toHaveLength(1);
  });
});

describe('isQemuRefusal', () => {
  it('is a QMP error reply meaning "not there", or HMP text; never a timeout or a lost connection', () => {
    expect(isQemuRefusal(new QmpCommandError('c', 'GenericError', 'd'))).toBe(true);
    expect(isQemuRefusal(new HmpCommandError('drive_del', 'not found'))).toBe(true);
    expect(isQemuRefusal(new QmpCommandError('c', 'CommandNotFound', 'd'))).toBe(false);
    expect(isQemuRefusal(new QmpTimeoutError('c', 1))).toBe(false);
    expect(isQemuRefusal(new QmpConnectionError('gone'))).toBe(false);
    expect(isQemuRefusal(new Error('The feature colo is not enabled'))).toBe(false);
  });
});
