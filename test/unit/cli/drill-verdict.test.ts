import { describe, expect, it } from 'vitest';
import { drillVerdict, hasTakenOver, restoredVerdict, servesAsPrimary, type DrillEvidence } from '../../../cli/drill/verdict.js';
import type { RestoreReport } from '../../../cli/restore/run-restore.js';
import { T0, nodeStatus, tookOver } from '../shared/feed/fixtures.js';

/** alpha (primary, epoch 1) crashed; beta took over under epoch 2, alpha's qemu is gone and the pattern reads back. */
function evidence(over: Partial<DrillEvidence> = {}): DrillEvidence {
  return {
    survivor: 'beta',
    failed: 'alpha',
    epochBefore: 1,
    timeoutMs: 30_000,
    takeover: tookOver(T0),
    survivorStatus: tookOver(T0 + 500),
    loserStatus: nodeStatus({ node: 'alpha', qemuPid: null, runState: null, coloMode: null, phase: 'failed', protected: false }),
    data: { verified: true, detail: 'read 1048576/1048576 bytes at offset 2097152' },
    ...over,
  };
}

describe('drillVerdict', () => {
  it('passes with one active VM, a higher epoch and the pattern intact', () => {
    expect(drillVerdict(evidence())).toEqual({ ok: true, singleActive: true, reason: 'beta took over as the single active VM with epoch 2; data verified' });
  });

  it('without periodic checkpoints the data check is skipped and said so; the takeover rules still decide', () => {
    const why = 'the VM runs without periodic checkpoints';
    expect(drillVerdict(evidence({ data: null, dataSkipped: why }))).toEqual({ ok: true, singleActive: true, reason: `beta took over as the single active VM with epoch 2; data not checked: ${why}` });
    const loserServes = nodeStatus({ node: 'alpha', role: 'primary', qemuPid: 7, runState: 'running' });
    expect(drillVerdict(evidence({ data: null, dataSkipped: why, loserStatus: loserServes }))).toMatchObject({ ok: false, reason: `data not checked: ${why}; alpha is still running as primary` });
  });

  it('passes when the failed side is fenced (paused) or does not answer at all', () => {
    expect(drillVerdict(evidence({ loserStatus: nodeStatus({ node: 'alpha', runState: 'paused', phase: 'fenced' }) })).ok).toBe(true);
    expect(drillVerdict(evidence({ loserStatus: null })).ok).toBe(true);
  });

  it('passes when an automatic restore already protects the survivor as primary', () => {
    expect(drillVerdict(evidence({ survivorStatus: { ...tookOver(T0 + 500), coloMode: 'primary', protected: true } })).ok).toBe(true);
  });

  it('fails when the pattern is not intact on the survivor, with qemu-io saying why', () => {
    const v = drillVerdict(evidence({ data: { verified: false, detail: 'Pattern verification failed at offset 2097152' } }));
    expect(v).toEqual({ ok: false, singleActive: true, reason: 'pattern not intact on beta: Pattern verification failed at offset 2097152' });
  });

  it('fails without single activity when the failed side still runs as primary', () => {
    const v = drillVerdict(evidence({ loserStatus: nodeStatus({ node: 'alpha' }) }));
    expect(v).toEqual({ ok: false, singleActive: false, reason: 'alpha is still running as primary' });
  });

  it('fails when the survivor is not running alone at the end (paused, or still a COLO secondary, or silent)', () => {
    const paused = drillVerdict(evidence({ survivorStatus: { ...tookOver(T0 + 500), runState: 'paused' } }));
    expect(paused).toEqual({ ok: false, singleActive: false, reason: 'beta is not running alone (run state paused, COLO none)' });
    const secondary = drillVerdict(evidence({ survivorStatus: { ...tookOver(T0 + 500), coloMode: 'secondary' } }));
    expect(secondary.reason).toBe('beta is not running alone (run state running, COLO secondary)');
    expect(drillVerdict(evidence({ survivorStatus: null }))).toMatchObject({ ok: false, singleActive: false });
  });

  it('fails when the takeover epoch is not above the one before the drill', () => {
    const v = drillVerdict(evidence({ epochBefore: 2 }));
    expect(v).toEqual({ ok: false, singleActive: true, reason: 'beta runs with epoch 2, not above 2' });
  });

  it('names every broken promise at once', () => {
    const v = drillVerdict(evidence({ data: { verified: false, detail: 'x' }, loserStatus: nodeStatus({ node: 'alpha' }), survivorStatus: null }));
    expect(v.reason).toBe('pattern not intact on beta: x; beta is not running alone (run state undefined, COLO undefined); alpha is still running as primary');
  });

  it('fails with the survivor\'s own reason when it did not take over in time', () => {
    const waiting = nodeStatus({ node: 'beta', reason: 'COLO running: the secondary follows every checkpoint' });
    expect(drillVerdict(evidence({ takeover: null, survivorStatus: waiting, loserStatus: null, data: null }))).toEqual({
      ok: false,
      singleActive: false,
      reason: 'beta did not take over within 30000 ms: COLO running: the secondary follows every checkpoint',
    });
    expect(drillVerdict(evidence({ takeover: null, survivorStatus: null, data: null })).reason).toBe('beta did not take over within 30000 ms: no answer');
  });
});

describe('the status predicates the drill waits on', () => {
  it('hasTakenOver: running alone as primary under a higher epoch', () => {
    expect(hasTakenOver(tookOver(T0), 1)).toBe(true);
    expect(hasTakenOver(tookOver(T0), 2)).toBe(false);
    expect(hasTakenOver({ ...tookOver(T0), failover: { ...tookOver(T0).failover!, phase: 'takingOver' } }, 1)).toBe(false);
    expect(hasTakenOver(nodeStatus({ node: 'beta', epoch: 2 }), 1)).toBe(false);
    expect(hasTakenOver(null, 1)).toBe(false);
  });

  it('servesAsPrimary: a running qemu as primary', () => {
    expect(servesAsPrimary(nodeStatus({ node: 'alpha' }))).toBe(true);
    expect(servesAsPrimary(nodeStatus({ node: 'alpha', qemuPid: null }))).toBe(false);
    expect(servesAsPrimary(nodeStatus({ node: 'alpha', runState: 'paused' }))).toBe(false);
    expect(servesAsPrimary(nodeStatus({ node: 'beta' }))).toBe(false);
    expect(servesAsPrimary(null)).toBe(false);
  });
});

describe('restoredVerdict', () => {
  const drill = { ok: true, reason: 'beta took over as the single active VM with epoch 2; data verified', survivor: 'beta' };
  const restore: RestoreReport = { vm: 'vm1', survivor: 'beta', target: 'alpha', protected: true, restored: true, request: { accepted: true, reason: 'restoring protection onto alpha' }, epoch: 2, resyncMs: 900, pauseMs: 20, totalMs: 3_000, attempts: 1, reason: 'protected again: beta primary, alpha secondary' };

  it('passes when protected again with the survivor as primary', () => {
    expect(restoredVerdict(drill, restore)).toEqual({ ok: true, reason: drill.reason });
  });

  it('fails, adding the restore\'s reason, when not protected or protected the other way round', () => {
    expect(restoredVerdict(drill, { ...restore, protected: false, reason: 'resync failed' })).toEqual({ ok: false, reason: `${drill.reason}; restore: resync failed` });
    expect(restoredVerdict(drill, { ...restore, survivor: 'alpha' }).ok).toBe(false);
  });
});
