import { describe, expect, it } from 'vitest';
import { changeLine, LiveView, type LiveVm } from '../../../cli/live-view.js';

const vm = (over: Partial<LiveVm> = {}): LiveVm => ({
  vm: 'vm1',
  protected: true,
  phase: 'coloRunning',
  reason: 'COLO running: the secondary follows every checkpoint',
  epoch: 1,
  nodes: [
    { node: 'alpha', reachable: true, role: 'primary', phase: 'coloRunning' },
    { node: 'beta', reachable: true, role: 'secondary', phase: 'coloRunning' },
  ],
  checkpoints: { pauseMsP50: 0.8 },
  ...over,
});

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { isTTY, write: (s: string) => chunks.push(s), chunks };
}

const AT = new Date('2026-12-04T03:00:05Z');

describe('the terminal live view', () => {
  it('not a TTY: one line per change, nothing when only the figures move', () => {
    const out = sink(false);
    const view = new LiveView(out);
    view.show([vm()], AT);
    view.show([vm({ checkpoints: { pauseMsP50: 0.9 } })], AT);
    view.show([vm({ protected: false, phase: 'runningAlone', epoch: 2, reason: "took over after the primary's qemu died" })], AT);
    expect(out.chunks).toEqual([
      '03:00:05 vm1 PROTECTED coloRunning epoch 1 | alpha primary coloRunning · beta secondary coloRunning | COLO running: the secondary follows every checkpoint\n',
      "03:00:05 vm1 NOT PROTECTED runningAlone epoch 2 | alpha primary coloRunning · beta secondary coloRunning | took over after the primary's qemu died\n",
    ]);
  });

  it('a TTY: the compact view is redrawn in place (cursor up over the last view, erase), change lines above it', () => {
    const out = sink(true);
    const view = new LiveView(out, 200);
    view.show([vm()], AT);
    expect(out.chunks[0]).toBe(
      `${changeLine(vm(), AT)}\nvm1  PROTECTED  coloRunning  epoch 1  pause p50 0.8 ms · last change 0 s ago\n  alpha primary coloRunning · beta secondary coloRunning\n  COLO running: the secondary follows every checkpoint\n`,
    );
    view.show([vm({ checkpoints: { pauseMsP50: 1.1 } })], new Date(AT.getTime() + 3_000));
    // Only the view, redrawn over the previous three lines: no new change line.
    expect(out.chunks[1]).toBe('\x1b[3F\x1b[Jvm1  PROTECTED  coloRunning  epoch 1  pause p50 1.1 ms · last change 3 s ago\n  alpha primary coloRunning · beta secondary coloRunning\n  COLO running: the secondary follows every checkpoint\n');
  });

  it('cuts long lines to the terminal width and names an unreachable node', () => {
    const out = sink(true);
    new LiveView(out, 40).show([vm({ nodes: [{ node: 'alpha', reachable: false, role: null, phase: null }], reason: 'x'.repeat(100) })], AT);
    const lines = out.chunks[0]!.split('\n').slice(1, -1);
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines[1]).toBe('  alpha unreachable');
  });
});
