import { describe, expect, it } from 'vitest';
import { QmpCommandError, QmpProtocolError } from '../../../../shared/errors.js';
import {
  queryBlockJobs,
  queryColoStatus,
  queryCommandNames,
  queryMigrate,
  queryStatus,
  queryVersion,
  type CallOptions,
  type QmpClient,
} from '../../../../shared/qmp/index.js';

interface Call {
  command: string;
  args: unknown;
  options: CallOptions | undefined;
}

/** Only `execute` matters to the helpers; it answers with a fixed reply per command. */
function stubQmp(replies: Record<string, unknown>): QmpClient & { calls: Call[] } {
  const calls: Call[] = [];
  const execute = async (command: string, args?: unknown, options?: CallOptions): Promise<unknown> => {
    calls.push({ command, args, options });
    const reply = replies[command];
    if (reply instanceof Error) throw reply;
    if (!(command in replies)) throw new Error(`stub: unexpected ${command}`);
    return reply;
  };
  return { execute, calls } as unknown as QmpClient & { calls: Call[] };
}

const job = { device: 'drive0', type: 'mirror', len: 1024, offset: 512, ready: false, status: 'running', speed: 0, busy: true };

describe('QMP command helpers', () => {
  it('queryStatus returns running and status, ignoring extra fields', async () => {
    const qmp = stubQmp({ 'query-status': { running: false, status: 'colo', singlestep: false } });
    await expect(queryStatus(qmp)).resolves.toStrictEqual({ running: false, status: 'colo' });
  });

  it('queryColoStatus maps last-mode to lastMode and omits it when absent', async () => {
    const full = stubQmp({ 'query-colo-status': { mode: 'secondary', 'last-mode': 'none', reason: 'none' } });
    await expect(queryColoStatus(full)).resolves.toStrictEqual({ mode: 'secondary', lastMode: 'none', reason: 'none' });
    const short = stubQmp({ 'query-colo-status': { mode: 'primary', reason: 'request' } });
    await expect(queryColoStatus(short)).resolves.toStrictEqual({ mode: 'primary', reason: 'request' });
  });

  it('queryMigrate maps error-desc and accepts the empty reply before any migration', async () => {
    await expect(queryMigrate(stubQmp({ 'query-migrate': {} }))).resolves.toStrictEqual({});
    const failed = stubQmp({ 'query-migrate': { status: 'failed', 'error-desc': 'Connection refused', 'total-time': 3 } });
    await expect(queryMigrate(failed)).resolves.toStrictEqual({ status: 'failed', errorDesc: 'Connection refused' });
  });

  it('queryBlockJobs returns the used fields of each job', async () => {
    const { busy: _busy, ...expected } = job;
    const { status: _status, ...noStatus } = job;
    const qmp = stubQmp({ 'query-block-jobs': [job, noStatus] });
    const { status: _s, ...expectedNoStatus } = expected;
    await expect(queryBlockJobs(qmp)).resolves.toStrictEqual([expected, expectedNoStatus]);
  });

  it('queryCommandNames returns the names', async () => {
    const qmp = stubQmp({ 'query-commands': [{ name: 'x-colo-lost-heartbeat' }, { name: 'yank', 'allow-oob': true }] });
    await expect(queryCommandNames(qmp)).resolves.toEqual(['x-colo-lost-heartbeat', 'yank']);
  });

  it('queryVersion flattens qemu.{major,minor,micro} and package', async () => {
    const qmp = stubQmp({ 'query-version': { qemu: { major: 7, minor: 2, micro: 11 }, package: 'Debian 1:7.2+dfsg-7' } });
    await expect(queryVersion(qmp)).resolves.toStrictEqual({ major: 7, minor: 2, micro: 11, package: 'Debian 1:7.2+dfsg-7' });
  });

  it('passes call options through to execute', async () => {
    const qmp = stubQmp({ 'query-status': { running: true, status: 'running' } });
    const options = { timeoutMs: 123, signal: new AbortController().signal };
    await queryStatus(qmp, options);
    expect(qmp.calls).toEqual([{ command: 'query-status', args: undefined, options }]);
  });

  it('lets a QmpCommandError from qemu through unchanged', async () => {
    const error = new QmpCommandError('query-colo-status', 'CommandNotFound', 'not found');
    await expect(queryColoStatus(stubQmp({ 'query-colo-status': error }))).rejects.toBe(error);
  });

  it.each([
    ['query-status', queryStatus, { running: 'yes', status: 'running' }, 'running'],
    ['query-colo-status', queryColoStatus, { mode: 'bogus', reason: 'none' }, 'mode'],
    ['query-migrate', queryMigrate, { status: 7 }, 'status'],
    ['query-block-jobs', queryBlockJobs, [job, { ...job, len: 'big' }], '[1].len'],
    ['query-commands', queryCommandNames, { name: 'not-a-list' }, '(root)'],
    ['query-version', queryVersion, { qemu: { major: 7, minor: 2 }, package: '' }, 'qemu.micro'],
  ] as const)('%s: a bad reply throws QmpProtocolError naming the path', async (command, helper, reply, path) => {
    const err = await helper(stubQmp({ [command]: reply })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpProtocolError);
    expect((err as Error).message).toContain(`QMP ${command} reply: ${path}:`);
  });
});
