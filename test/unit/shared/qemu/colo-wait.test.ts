import { describe, expect, it } from 'vitest';
import { awaitColoMode, COMPLETED_WITHOUT_COLO } from '../../../../shared/qemu/colo-wait.js';
import { recordingQmp } from '../qmp/recording-qmp.js';

function qemuWhoseMigration(status: string) {
  return recordingQmp((s) => {
    const command = 'execute' in s ? s.execute : '';
    if (command === 'query-colo-status') return { mode: 'none', reason: 'none' };
    if (command === 'query-migrate') return { status };
    return {};
  });
}

describe('awaitColoMode on the primary', () => {
  it('reports a migration that completed without entering COLO as that, not as a timeout', async () => {
    await expect(awaitColoMode(qemuWhoseMigration('completed'), 'primary', { timeoutMs: 1_000, pollMs: 1 })).rejects.toThrow(COMPLETED_WITHOUT_COLO);
  });

  it('keeps waiting while the migration is still active', async () => {
    const qmp = qemuWhoseMigration('active');
    const aborter = new AbortController();
    const waiting = awaitColoMode(qmp, 'primary', { timeoutMs: 1_000, pollMs: 1, signal: aborter.signal });
    await new Promise((r) => setTimeout(r, 20));
    aborter.abort();
    await expect(waiting).rejects.toThrow(/aborted/);
    expect(qmp.sent.filter((s) => 'execute' in s && s.execute === 'query-migrate').length).toBeGreaterThan(2);
  });
});
