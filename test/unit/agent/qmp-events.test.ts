import { describe, expect, it } from 'vitest';
import { coloEventTranslator, quorumWriteFailure } from '../../../agent/signals/qmp-events.js';
import type { QmpEvent } from '../../../shared/qmp/index.js';

function ev(event: string, seconds: number, microseconds: number, data: Record<string, unknown> = {}): QmpEvent {
  // receivedAtMs is deliberately far from the qemu timestamps: the pause must not use it.
  return { event, data, timestamp: { seconds, microseconds }, receivedAtMs: 999_999 };
}

const fixedNow = (): number => 1_700_000_000_123;

describe('coloEventTranslator', () => {
  it('turns STOP then RESUME into CHECKPOINT_COMPLETED with the pause from qemu timestamps', () => {
    const translate = coloEventTranslator(fixedNow);
    expect(translate(ev('STOP', 1_700_000_000, 250_000))).toBeNull();
    const signal = translate(ev('RESUME', 1_700_000_000, 262_500));
    expect(signal).toEqual({ type: 'CHECKPOINT_COMPLETED', at: 1_700_000_000_123, pauseMs: expect.any(Number) });
    expect(signal?.type === 'CHECKPOINT_COMPLETED' && signal.pauseMs).toBeCloseTo(12.5, 6);
  });

  it('combines seconds and microseconds across a second boundary', () => {
    const translate = coloEventTranslator(fixedNow);
    translate(ev('STOP', 100, 999_000));
    const signal = translate(ev('RESUME', 102, 1_500));
    expect(signal?.type).toBe('CHECKPOINT_COMPLETED');
    expect(signal?.type === 'CHECKPOINT_COMPLETED' && signal.pauseMs).toBeCloseTo(1_002.5, 6);
  });

  it('uses the injected clock for the completion time', () => {
    let t = 5;
    const translate = coloEventTranslator(() => t);
    translate(ev('STOP', 1, 0));
    t = 77;
    expect(translate(ev('RESUME', 1, 1_000))).toMatchObject({ at: 77, pauseMs: 1 });
  });

  it('dates a checkpoint read late (this process stalled) by qemu, not by when it was read', () => {
    const translate = coloEventTranslator(() => 1_700_000_005_000);
    translate(ev('STOP', 1_700_000_000, 0));
    expect(translate(ev('RESUME', 1_700_000_000, 8_000))).toMatchObject({ at: 1_700_000_000_008 });
  });

  it('ignores a RESUME without a preceding STOP', () => {
    const translate = coloEventTranslator(fixedNow);
    expect(translate(ev('RESUME', 10, 0))).toBeNull();
  });

  it('pairs each STOP with one RESUME only', () => {
    const translate = coloEventTranslator(fixedNow);
    translate(ev('STOP', 10, 0));
    expect(translate(ev('RESUME', 10, 5_000))).not.toBeNull();
    expect(translate(ev('RESUME', 10, 9_000))).toBeNull();
    translate(ev('STOP', 11, 0));
    expect(translate(ev('RESUME', 11, 2_000))).toMatchObject({ type: 'CHECKPOINT_COMPLETED', pauseMs: 2 });
  });

  it('measures from the latest STOP when two arrive in a row', () => {
    const translate = coloEventTranslator(fixedNow);
    translate(ev('STOP', 10, 0));
    translate(ev('STOP', 10, 500_000));
    expect(translate(ev('RESUME', 10, 503_000))).toMatchObject({ pauseMs: 3 });
  });

  it('never reports a negative pause', () => {
    const translate = coloEventTranslator(fixedNow);
    translate(ev('STOP', 10, 500));
    expect(translate(ev('RESUME', 10, 100))).toMatchObject({ pauseMs: 0 });
  });

  it('keeps translators independent', () => {
    const a = coloEventTranslator(fixedNow);
    const b = coloEventTranslator(fixedNow);
    a(ev('STOP', 1, 0));
    expect(b(ev('RESUME', 1, 10))).toBeNull();
    expect(a(ev('RESUME', 1, 10))).not.toBeNull();
  });

  it('turns COLO_EXIT into COLO_EXITED naming the mode and reason', () => {
    const translate = coloEventTranslator(fixedNow);
    const signal = translate(ev('COLO_EXIT', 5, 0, { mode: 'primary', reason: 'error' }));
    expect(signal?.type).toBe('COLO_EXITED');
    expect(signal?.type === 'COLO_EXITED' && signal.reason).toContain('primary');
    expect(signal?.type === 'COLO_EXITED' && signal.reason).toContain('error');
    const secondary = translate(ev('COLO_EXIT', 5, 0, { mode: 'secondary', reason: 'request' }));
    expect(secondary).toEqual({ type: 'COLO_EXITED', reason: expect.stringMatching(/secondary.*request/) });
  });

  it('says unknown when COLO_EXIT lacks mode or reason', () => {
    const signal = coloEventTranslator(fixedNow)(ev('COLO_EXIT', 5, 0, { mode: 3 }));
    expect(signal).toEqual({ type: 'COLO_EXITED', reason: expect.stringContaining('unknown') });
  });

  it.each(['SHUTDOWN', 'BLOCK_JOB_COMPLETED', 'MIGRATION', 'NBD_DEVICE_DELETED', 'stop'])('%s -> null', (name) => {
    expect(coloEventTranslator(fixedNow)(ev(name, 1, 0, { status: 'colo' }))).toBeNull();
  });

  it('other events between STOP and RESUME do not break the pair', () => {
    const translate = coloEventTranslator(fixedNow);
    translate(ev('STOP', 20, 0));
    expect(translate(ev('MIGRATION', 20, 100, { status: 'colo' }))).toBeNull();
    expect(translate(ev('RESUME', 20, 4_000))).toMatchObject({ type: 'CHECKPOINT_COMPLETED', pauseMs: 4 });
  });
});

describe('quorumWriteFailure', () => {
  const at = { seconds: 1796224266, microseconds: 163_781 };
  it('reads a failed write on a quorum child, with qemu\'s own event time', () => {
    const e = { event: 'QUORUM_REPORT_BAD', data: { type: 'write', 'node-name': 'replication0', error: 'Input/output error', sector: 2048, 'sectors-count': 2048 }, timestamp: at } as unknown as QmpEvent;
    expect(quorumWriteFailure(e)).toEqual({ node: 'replication0', atMs: 1796224266163.781, detail: 'a write did not reach replication0 (Input/output error at sector 2048)' });
  });
  it('counts a flush, not a read, and ignores other events', () => {
    const ev = (data: Record<string, unknown>, event = 'QUORUM_REPORT_BAD') => ({ event, data, timestamp: at }) as unknown as QmpEvent;
    expect(quorumWriteFailure(ev({ type: 'flush', 'node-name': 'replication0' }))?.detail).toBe('a flush did not reach replication0 (error)');
    expect(quorumWriteFailure(ev({ type: 'read', 'node-name': 'replication0' }))).toBeNull();
    expect(quorumWriteFailure(ev({ type: 'write' }, 'QUORUM_FAILURE'))).toBeNull();
  });
});
