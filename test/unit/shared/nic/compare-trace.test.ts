import { describe, expect, it } from 'vitest';
import { classifyCompareLine, compareTraceArgs, emptyTally, parseCompareTrace, tallyCompare, type TallyContext } from '../../../../shared/nic/compare-trace.js';
import { nicIds, nicProxyState } from '../../../../shared/nic/index.js';

// Lines as QEMU 7.2 wrote them on this machine (`-msg timestamp=on`, log trace backend).
const SAMPLE = [
  '5681@1796341478.079688:colo_compare_main : compare udp',
  '5681@1796341478.079770:colo_compare_main : packet same and release packet',
  '5681@1796341479.086007:colo_compare_main : packet different',
  '5690@1796341479.100000:colo_compare_tcp_info pri: seq/ack= 1/2 hdlen= 20 pdlen= 10 offset= 0 flags=24',
  '5690@1796341479.100001:colo_compare_tcp_info sec: seq/ack= 1/2 hdlen= 20 pdlen= 10 offset= 0 flags=24',
  'qemu-system-x86_64: some error the log also carries',
].join('\n');

const ctx = (o: Partial<TallyContext> = {}): TallyContext => ({ nicOfThread: (t) => ({ 5681: 0, 5690: 1 })[t], checkpointDelayMs: 1_000, soleNic: undefined, ...o });

describe('colo-compare trace', () => {
  it('the argv puts thread ids and times on each line, to the VM run dir, with both trace events', () => {
    expect(compareTraceArgs('/run/vm1')).toEqual(['-msg', 'timestamp=on', '-D', '/run/vm1/compare-trace.log', '-trace', 'enable=colo_compare_main', '-trace', 'enable=colo_compare_tcp_info']);
  });

  it('classifies what 7.2 writes', () => {
    expect(classifyCompareLine('colo_compare_main', ': compare udp')).toBe('compared');
    expect(classifyCompareLine('colo_compare_main', 'chr: compare icmp')).toBe('compared');
    expect(classifyCompareLine('colo_compare_main', ': packet different')).toBe('different');
    expect(classifyCompareLine('colo_compare_main', ': packet same and release packet')).toBe('other');
    expect(classifyCompareLine('colo_compare_tcp_info', 'pri: seq/ack= 1/2')).toBe('compared');
    expect(classifyCompareLine('colo_compare_tcp_info', 'sec: seq/ack= 1/2')).toBe('other');
  });

  it('parses complete lines with thread and time, and keeps a partial last line for the next read', () => {
    const { lines, rest } = parseCompareTrace(`${SAMPLE}\n5681@1796341480.000001:colo_compare_ma`);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toEqual({ threadId: 5681, at: 1796341478079.688, kind: 'compared' });
    expect(lines.map((l) => l.kind)).toEqual(['compared', 'other', 'different', 'compared', 'other']);
    expect(rest).toBe('5681@1796341480.000001:colo_compare_ma');
  });

  it('counts per NIC by thread; a checkpoint after a miscompare is that NIC’s, once', () => {
    const { lines } = parseCompareTrace(`${SAMPLE}\n`);
    const t = tallyCompare(emptyTally(), lines, [{ at: 1796341479090, previousResumeAt: 1796341478000 }, { at: 1796341479500, previousResumeAt: 1796341479200 }], ctx());
    expect(t.counts.get(0)).toEqual({ packetsCompared: 1, miscompares: 1, miscompareCheckpoints: 1 });
    expect(t.counts.get(1)).toEqual({ packetsCompared: 1, miscompares: 0, miscompareCheckpoints: 0 });
    expect(t.pending.size).toBe(0);
  });

  it('a miscompare after the checkpoint waits for the next one; lines of unknown threads are ignored', () => {
    const lines = [
      { threadId: 1, at: 100, kind: 'different' as const },
      { threadId: 5681, at: 300, kind: 'different' as const },
    ];
    const t1 = tallyCompare(emptyTally(), lines, [{ at: 200, previousResumeAt: null }], ctx());
    expect(t1.counts.get(0)).toEqual({ packetsCompared: 0, miscompares: 1, miscompareCheckpoints: 0 });
    expect([...t1.pending]).toEqual([0]);
    const t2 = tallyCompare(t1, [], [{ at: 5_000, previousResumeAt: 250 }], ctx());
    expect(t2.counts.get(0)!.miscompareCheckpoints).toBe(1);
  });

  it('an early checkpoint with no traced miscompare is the sole compared NIC’s (TCP mismatches are not traced); a periodic one is nobody’s', () => {
    const early = tallyCompare(emptyTally(), [], [{ at: 1_300, previousResumeAt: 1_000 }], ctx({ soleNic: 0 }));
    expect(early.counts.get(0)).toEqual({ packetsCompared: 0, miscompares: 0, miscompareCheckpoints: 1 });
    const periodic = tallyCompare(emptyTally(), [], [{ at: 2_000, previousResumeAt: 1_000 }], ctx({ soleNic: 0 }));
    expect(periodic.counts.size).toBe(0);
    const twoNics = tallyCompare(emptyTally(), [], [{ at: 1_300, previousResumeAt: 1_000 }], ctx());
    expect(twoNics.counts.size).toBe(0);
  });
});

describe('NIC proxy state from qemu objects', () => {
  const ids = nicIds(0);
  const state = (objs: string[]): string => nicProxyState(ids, new Set(objs)).state;
  it('names each role and what is left over', () => {
    expect(state(['m0', 'redire0a', 'redire0b', 'iothread0', 'comp0', 'colo-ft-other'])).toBe('primary');
    expect(state(['m0', 'redire0a', 'redire0b', 'iothread0', 'comp0', 'rew0'])).toBe('primary');
    expect(state(['sredire0a', 'sredire0b', 'rew0'])).toBe('secondary');
    expect(state(['rew0'])).toBe('rewriter');
    expect(state([])).toBe('none');
    expect(state(['m0', 'rew0'])).toBe('partial');
    expect(state(['sredire0a', 'rew0'])).toBe('partial');
    expect(nicProxyState(ids, new Set(['rew0', 'm1', 'sredire0b'])).objects).toEqual(['rew0', 'sredire0b']);
  });
});
