import { formatVmStatus } from '../../../cli/format.js';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { nodeStatusSchema, type NodeStatus } from '../../../shared/nats/messages.js';
import { checkpointMachine, type CheckpointContext, type ColoRole, type ReplicationView } from '../../../state-machines/checkpoint.js';
import { failoverMachine } from '../../../state-machines/failover.js';
import { restoreMachine } from '../../../state-machines/restore.js';
import { emptyCheckpointLog, recordCheckpoint } from '../../../state-machines/checkpoint-figures.js';
import {
  checkpointFigures,
  eventForTransition,
  mergeVmStatus,
  phaseOf,
  toNodeStatus,
  type CheckpointSnapshotView,
  type LiveQemu,
  type TransitionRecord,
} from '../../../state-machines/status.js';

const NOW = 1_700_000_000_000;

/** What the replication watch records after reading qemu's block graph. */
function audited(state: ReplicationView['state'], checkedAt = NOW - 1_500): ReplicationView {
  if (state === 'none') return { state, reason: 'no COLO disk', disks: [], checkedAt };
  return state === 'replicating'
    ? {
        state,
        reason: "every COLO disk replicates (2 checked in qemu's block graph)",
        disks: [
          { index: 0, state, reason: 'disk 0: quorum colo-disk0 writes the local image and 10.0.0.2:9101/vm1-d0' },
          { index: 1, state, reason: 'disk 1: quorum colo-disk1 writes the local image and 10.0.0.2:9101/vm1-d1' },
        ],
        checkedAt,
      }
    : {
        state,
        reason: 'disk 1: the quorum colo-disk1 has no replication child (children: children.0=#block666): writes reach only the local image',
        disks: [
          { index: 0, state: 'replicating', reason: 'disk 0: quorum colo-disk0 writes the local image and 10.0.0.2:9101/vm1-d0' },
          { index: 1, state, reason: 'disk 1: the quorum colo-disk1 has no replication child (children: children.0=#block666): writes reach only the local image' },
        ],
        checkedAt,
      };
}

function context(role: ColoRole, over: Partial<CheckpointContext> = {}): CheckpointContext {
  return {
    vm: 'vm1',
    node: role === 'primary' ? 'alpha' : 'beta',
    role,
    protectTimeoutMs: 60_000,
    stallBoundMs: 3_000,
    retryDelayMs: 1_000,
    reason: 'COLO running',
    qemuPid: 4242,
    peer: null,
    checkpoints: emptyCheckpointLog,
    attempts: 1,
    replication: audited('replicating'),
    ...over,
  };
}

function view(value: unknown, tags: string[], ctx: CheckpointContext): CheckpointSnapshotView {
  return { value, context: ctx, hasTag: (t) => tags.includes(t) };
}

function live(role: LiveQemu['coloMode'], qemuPid: number | null = 4242): LiveQemu {
  return { qemuPid, qmpSocket: '/run/a/vm1/qmp.sock', runState: 'running', coloMode: role, dataTls: true };
}

const extra = { epoch: 3, transitions: [] as TransitionRecord[] };

describe('phaseOf', () => {
  it.each([
    ['coloRunning', 'coloRunning'],
    [{ protecting: 'attaching' }, 'protecting.attaching'],
    [{ a: { b: 'c' } }, 'a.b.c'],
    [{}, 'unknown'],
    [42, 'unknown'],
    [null, 'unknown'],
  ] as const)('%j -> %s', (value, phase) => {
    expect(phaseOf(value)).toBe(phase);
  });
});

describe('toNodeStatus', () => {
  it('is protected when the tag is set, qemu is alive, live COLO mode matches the role and the audit says replicating', () => {
    const s = toNodeStatus(view('coloRunning', ['protected'], context('primary')), live('primary'), extra, NOW);
    expect(s).toMatchObject({ vm: 'vm1', node: 'alpha', role: 'primary', phase: 'coloRunning', protected: true, degraded: false, epoch: 3 });
    expect(s.replication).toEqual({ state: 'replicating', reason: "every COLO disk replicates (2 checked in qemu's block graph)", checkedAgoMs: 1_500 });
    expect(s.disks).toEqual([
      { index: 0, replication: { state: 'replicating', reason: 'disk 0: quorum colo-disk0 writes the local image and 10.0.0.2:9101/vm1-d0', checkedAgoMs: 1_500 } },
      { index: 1, replication: { state: 'replicating', reason: 'disk 1: quorum colo-disk1 writes the local image and 10.0.0.2:9101/vm1-d1', checkedAgoMs: 1_500 } },
    ]);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });

  it.each([
    ['no audit yet', null],
    ['a degraded audit', audited('degraded')],
  ] as const)('is not protected with %s, even with the tag, qemu alive and the COLO mode right', (_label, replication) => {
    const s = toNodeStatus(view('coloRunning', ['protected'], context('primary', { replication })), live('primary'), extra, NOW);
    expect(s.protected).toBe(false);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });

  it('a VM without COLO disks (audit state none) has nothing to replicate: protected on the other conditions', () => {
    const s = toNodeStatus(view('coloRunning', ['protected'], context('primary', { replication: audited('none') })), live('primary'), extra, NOW);
    expect(s.protected).toBe(true);
    expect(s.replication?.state).toBe('none');
  });

  it('reports no replication and no disks before any audit, and each disk of a degraded one', () => {
    const none = toNodeStatus(view('launching', [], context('primary', { replication: null })), live(null, null), extra, NOW);
    expect(none.replication).toBeNull();
    expect(none.disks).toEqual([]);

    const s = toNodeStatus(view('unreplicated', ['degraded'], context('primary', { replication: audited('degraded', NOW - 250) })), live('primary'), extra, NOW);
    expect(s).toMatchObject({ phase: 'unreplicated', protected: false, degraded: true });
    expect(s.replication).toEqual({ state: 'degraded', reason: expect.stringContaining('disk 1: the quorum colo-disk1 has no replication child'), checkedAgoMs: 250 });
    expect(s.disks.map((d) => [d.index, d.replication.state, d.replication.checkedAgoMs])).toEqual([
      [0, 'replicating', 250],
      [1, 'degraded', 250],
    ]);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
    // An audit stamped after now (clock skew) never yields a negative age.
    const ahead = toNodeStatus(view('coloRunning', ['protected'], context('primary', { replication: audited('replicating', NOW + 99) })), live('primary'), extra, NOW);
    expect(ahead.replication?.checkedAgoMs).toBe(0);
    expect(ahead.disks.every((d) => d.replication.checkedAgoMs === 0)).toBe(true);
  });

  it.each([
    ['no protected tag', [] as string[], live('primary')],
    ['live COLO mode none', ['protected'], live('none')],
    ['live COLO mode of the other role', ['protected'], live('secondary')],
    ['live COLO mode unknown', ['protected'], live(null)],
    ['no qemu pid', ['protected'], live('primary', null)],
  ])('is not protected with %s', (_label, tags, liveQemu) => {
    const s = toNodeStatus(view('coloRunning', tags, context('primary')), liveQemu, extra, NOW);
    expect(s.protected).toBe(false);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });

  it('reports degraded from the tag, the reason from context and the live qemu facts', () => {
    const ctx = context('secondary', { reason: 'qemu exited: signal SIGKILL', qemuPid: null });
    const s = toNodeStatus(view('qemuGone', ['degraded'], ctx), { qemuPid: null, qmpSocket: '/q', runState: null, coloMode: null, dataTls: null }, extra, NOW);
    expect(s).toMatchObject({
      role: 'secondary',
      phase: 'qemuGone',
      protected: false,
      degraded: true,
      reason: 'qemu exited: signal SIGKILL',
      qemuPid: null,
      qmpSocket: '/q',
      runState: null,
      coloMode: null,
      sentAt: NOW,
    });
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });

  it('lets extra.role override the machine role (after a takeover)', () => {
    const s = toNodeStatus(view('coloRunning', [], context('secondary')), live('none'), { ...extra, role: 'primary' }, NOW);
    expect(s.role).toBe('primary');
  });

  it('uses the nested phase of a compound state value', () => {
    const s = toNodeStatus(view({ protecting: { migrating: 'waiting' } }, [], context('primary')), live('none'), extra, NOW);
    expect(s.phase).toBe('protecting.migrating.waiting');
  });

  it('derives checkpoint figures: count, rate, rounded last pause, age of the last one', () => {
    let log = emptyCheckpointLog;
    for (const [at, pause] of [[NOW - 2_000, 10], [NOW - 1_000, 11], [NOW - 500, 12.3456]] as const) {
      log = recordCheckpoint(log, at, pause);
    }
    const s = toNodeStatus(view('coloRunning', ['protected'], context('primary', { checkpoints: log })), live('primary'), extra, NOW);
    expect(s.checkpoints).toEqual({
      ...{ count: 3, ratePerSec: 1, lastPauseMs: 12.35, lastAgeMs: 500 },
      // Over the last minute: nearest-rank percentiles, and 33.35 ms stopped in the 2,010 ms since the first STOP.
      ...{ pauseMsP50: 11, pauseMsP99: 12.35, pausedFraction: 0.0166 },
      recentPauses: [{ at: NOW - 2_000, ms: 10 }, { at: NOW - 1_000, ms: 11 }, { at: NOW - 500, ms: 12.35 }],
    });
    expect(checkpointFigures(emptyCheckpointLog, NOW)).toEqual({ count: 0, ratePerSec: 0, lastPauseMs: null, lastAgeMs: null, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] });
    // A clock that went backwards never yields a negative age.
    expect(checkpointFigures(recordCheckpoint(emptyCheckpointLog, NOW + 50, 1), NOW).lastAgeMs).toBe(0);
  });

  it('keeps only the last 20 transitions, copied', () => {
    const transitions = Array.from({ length: 30 }, (_, i) => ({ at: i, from: `s${i}`, to: `s${i + 1}`, reason: `r${i}` }));
    const s = toNodeStatus(view('coloRunning', [], context('primary')), live('none'), { epoch: 0, transitions }, NOW);
    expect(s.transitions).toHaveLength(20);
    expect(s.transitions[0]).toEqual(transitions[10]);
    expect(s.transitions.at(-1)).toEqual(transitions[29]);
    expect(s.transitions[0]).not.toBe(transitions[10]);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });

  it('accepts a real actor snapshot and the result parses', () => {
    const actor = createActor(checkpointMachine, { input: { vm: 'vm1', node: 'alpha', role: 'primary', protectTimeoutMs: 1, stallBoundMs: 1, retryDelayMs: 1 } });
    actor.start();
    const s = toNodeStatus(actor.getSnapshot(), live(null, null), extra, NOW);
    actor.stop();
    expect(s.phase).toBe('launching');
    expect(s.protected).toBe(false);
    expect(nodeStatusSchema.parse(s)).toEqual(s);
  });
});

function report(node: string, role: NodeStatus['role'], over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    vm: 'vm1',
    node,
    role,
    phase: 'coloRunning',
    protected: true,
    degraded: false,
    reason: `${node} fine`,
    epoch: 1,
    qemuPid: 100,
    qmpSocket: `/run/${node}/vm1/qmp.sock`,
    runState: 'running',
    coloMode: role === 'none' ? 'none' : role,
    checkpoints: { count: role === 'primary' ? 42 : 0, ratePerSec: 5, lastPauseMs: 8, lastAgeMs: 100, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] },
    transitions: [],
    natsConnected: true,
    heartbeatAgeMs: null,
    resync: null,
    failover: null,
    replication: { state: 'replicating', reason: `${node}: every COLO disk replicates`, checkedAgoMs: 300 },
    disks: [{ index: 0, replication: { state: 'replicating', reason: `${node}: disk 0 replicates`, checkedAgoMs: 300 } }],
    sentAt: NOW,
    ...over,
  };
}

const NODES = ['alpha', 'beta'] as const;

describe('mergeVmStatus', () => {
  it('is protected when both sides are, with the primary reason and checkpoints', () => {
    const p = report('alpha', 'primary');
    const s = report('beta', 'secondary');
    const v = mergeVmStatus('vm1', NODES, [s, p]);
    expect(v).toMatchObject({ vm: 'vm1', protected: true, reason: 'alpha fine', phase: 'coloRunning', checkpoints: p.checkpoints });
    expect(v.nodes.map((n) => [n.node, n.reachable, n.role])).toEqual([
      ['alpha', true, 'primary'],
      ['beta', true, 'secondary'],
    ]);
    // Each node's audit verdict, as it reported it.
    expect(v.nodes[0]).toMatchObject({ replication: p.replication, disks: p.disks });
    expect(v.nodes[1]).toMatchObject({ replication: s.replication, disks: s.disks });
  });

  it("carries each node's TLS reading from qemu, and the text status warns when the data channels have none", () => {
    const v = mergeVmStatus('vm1', NODES, [report('alpha', 'primary', { dataTls: true }), report('beta', 'secondary', { dataTls: false })]);
    expect(v.nodes.map((n) => n.dataTls)).toEqual([true, false]);
    const text = formatVmStatus(v);
    expect(text.match(/WARNING no TLS on the data channels/g)).toHaveLength(1);
    expect(text.split('\n').findIndex((l) => l.includes('WARNING'))).toBeGreaterThan(text.split('\n').findIndex((l) => l.startsWith('  beta:')));
    expect(formatVmStatus(mergeVmStatus('vm1', NODES, [report('alpha', 'primary', { dataTls: true }), report('beta', 'secondary', { dataTls: true })]))).not.toContain('WARNING');
  });

  it('is not protected when one node did not answer, and the reason names it', () => {
    const v = mergeVmStatus('vm1', NODES, [report('alpha', 'primary')]);
    expect(v.protected).toBe(false);
    expect(v.reason).toContain('beta');
    expect(v.nodes[1]).toMatchObject({ node: 'beta', reachable: false, role: null, qemuPid: null, checkpoints: null, replication: null, disks: [] });
  });

  it('is not protected when one side is not, with that side reason', () => {
    const v = mergeVmStatus('vm1', NODES, [
      report('alpha', 'primary'),
      report('beta', 'secondary', { protected: false, reason: 'still waiting for the primary' }),
    ]);
    expect(v.protected).toBe(false);
    expect(v.reason).toBe('still waiting for the primary');
  });

  it('says so when no node runs the VM as primary', () => {
    const v = mergeVmStatus('vm1', NODES, [report('alpha', 'none', { protected: true }), report('beta', 'secondary')]);
    expect(v.protected).toBe(false);
    expect(v.reason).toBe('no node runs this VM as primary');
    expect(v.checkpoints).toEqual({ count: 0, ratePerSec: 0, lastPauseMs: null, lastAgeMs: null, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] });
  });

  it('takes the highest epoch reported for the VM', () => {
    const v = mergeVmStatus('vm1', NODES, [report('alpha', 'primary', { epoch: 4 }), report('beta', 'secondary', { epoch: 7 })]);
    expect(v.epoch).toBe(7);
    expect(mergeVmStatus('vm1', NODES, []).epoch).toBe(0);
  });

  it('ignores reports about other VMs', () => {
    const other = [report('alpha', 'primary', { vm: 'vm2', epoch: 99 }), report('beta', 'secondary', { vm: 'vm2', epoch: 99 })];
    const v = mergeVmStatus('vm1', NODES, other);
    expect(v.protected).toBe(false);
    expect(v.epoch).toBe(0);
    expect(v.nodes.every((n) => !n.reachable)).toBe(true);
    expect(v.phase).toBe('unknown');

    const mixed = mergeVmStatus('vm1', NODES, [...other, report('alpha', 'primary'), report('beta', 'secondary')]);
    expect(mixed).toMatchObject({ protected: true, epoch: 1 });
  });
});

// Self-transitions never reach it (agent/runtime/transitions.ts reports only changes of phase).
// The tags are read from the machines' own state definitions, so a retagged state shows here.
describe('eventForTransition (from the tags a change of phase gains and loses)', () => {
  const machines = { checkpoint: checkpointMachine, failover: failoverMachine, restore: restoreMachine };
  const tagsOf = (m: keyof typeof machines, state: string): Set<string> => {
    const node = machines[m].root.states[state];
    if (!node) throw new Error(`${m} has no state ${state}`);
    return new Set(node.tags);
  };
  it.each([
    ['checkpoint', 'enteringColo', 'coloRunning', 'protected'],
    ['checkpoint', 'coloRunning', 'coloLost', 'unprotected'],
    ['checkpoint', 'coloRunning', 'stalled', null],
    ['checkpoint', 'stalled', 'coloRunning', null],
    ['checkpoint', 'stalled', 'coloLost', 'unprotected'],
    // An audit of qemu's block graph found a disk not replicating, and later replicating again.
    ['checkpoint', 'coloRunning', 'unreplicated', 'replication-degraded'],
    ['checkpoint', 'unreplicated', 'coloRunning', 'replication-verified'],
    ['checkpoint', 'unreplicated', 'coloLost', 'unprotected'],
    ['checkpoint', 'awaitingSecondary', 'syncing', null],
    ['restore', 'waitingForPeer', 'resyncing', 'resync-started'],
    ['restore', 'resyncing', 'switching', 'resync-done'],
    ['restore', 'switching', 'migrating', null],
    ['restore', 'backingOff', 'preparingPeer', null],
    ['failover', 'watching', 'claiming', 'failover-started'],
    ['failover', 'standingBy', 'claiming', null],
    ['failover', 'passive', 'claiming', null],
    ['failover', 'claiming', 'takingOver', null],
    ['failover', 'takingOver', 'runningAlone', 'takeover-done'],
    ['failover', 'carryingOn', 'runningAlone', 'takeover-done'],
    ['failover', 'watching', 'fencing', null],
    ['failover', 'fencing', 'fenced', 'fenced'],
    ['failover', 'releasing', 'down', 'qemu-lost'],
    ['failover', 'runningAlone', 'watching', null],
  ] as const)('%s %s -> %s announces %s', (m, from, to, kind) => {
    expect(eventForTransition(m, { before: tagsOf(m, from), after: tagsOf(m, to) })).toBe(kind);
  });

  it('a child followed from its current state counts as entering it (adoption into COLO announces protected)', () => {
    expect(eventForTransition('checkpoint', { before: new Set(), after: tagsOf('checkpoint', 'coloRunning') })).toBe('protected');
  });
});
