import { assign, enqueueActions, fromPromise, raise, sendTo, setup, stateIn, type SnapshotFrom } from 'xstate';
import { describeError } from '../shared/errors.js';
import { checkpointMachine } from './checkpoint.js';
import { failoverMachine } from './failover.js';
import { notProvided } from './not-provided.js';
import { restoreMachine } from './restore.js';
import { FAILOVER_PHASE_DEPTH, phaseOf } from './status.js';
import { restoreRefusal, rejoinRefusal, shouldAutoRestore, type FailoverView } from './vm-decisions.js';
import type { FailoverFacts, ReconcileOutput, VmContext, VmEvent, VmInput } from './vm-types.js';

export type { FailoverFacts, ReconcileOutput, StartKind, VmContext, VmEvent, VmInput } from './vm-types.js';

/**
 * One VM on one node. It owns the node's role for the VM and every swap of
 * it, and runs the three children: protect (the checkpoint machine),
 * failover and restore. Outside facts arrive as events and are forwarded to
 * the child they concern; the children's snapshots come back through
 * `onSnapshot`, where the role swaps and the hand-offs between children are
 * decided.
 */
const FAILOVER_SIGNALS = ['PEER_LOST', 'LEASE_HANDED_OVER', 'PEER_BACK', 'SILENT_PEER_CHECK', 'LOCAL_COLO_FAILED', 'LOCAL_QEMU_LOST', 'LEASE_LOST', 'NATS_DOWN', 'NATS_UP', 'REPLICATION_UNVERIFIED', 'REPLICATION_BROKEN'] as const;
const PROTECT_SIGNALS = ['CHECKPOINT_COMPLETED', 'QEMU_EXITED', 'COLO_EXITED', 'PRIMARY_REFUSED', 'SYNC_PROGRESS', 'REPLICATION_AUDITED'] as const;

const forward = (to: 'failover' | 'protect') => sendTo(to, ({ event }: { event: VmEvent }) => event as never);
const forwarding = <T extends string>(types: readonly T[], to: 'failover' | 'protect') => Object.fromEntries(types.map((t) => [t, { actions: forward(to) }]));

const viewOf = (f: FailoverFacts): FailoverView => ({ value: f.phase, hasTag: (t) => (t === 'alone' ? f.alone : t === 'watching' ? f.watching : false) });

function factsOf(s: SnapshotFrom<typeof failoverMachine>): FailoverFacts {
  return { phase: phaseOf(s.value, FAILOVER_PHASE_DEPTH), alone: s.hasTag('alone'), watching: s.hasTag('watching'), acted: s.hasTag('acted'), fencing: s.matches('fencing'), role: s.context.role };
}

const sameFacts = (a: FailoverFacts, b: FailoverFacts): boolean =>
  a.phase === b.phase && a.alone === b.alone && a.watching === b.watching && a.acted === b.acted && a.fencing === b.fencing && a.role === b.role;

const NO_FAILOVER: FailoverFacts = { phase: 'starting', alone: false, watching: false, acted: false, fencing: false, role: 'secondary' };

export const vmMachine = setup({
  types: { input: {} as VmInput, context: {} as VmContext, events: {} as VmEvent },
  actors: {
    reconcile: fromPromise<ReconcileOutput, { vm: string }>(async () => notProvided('reconcile')),
    resetForRejoin: fromPromise<void, { vm: string }>(async () => notProvided('resetForRejoin')),
    reclaimLease: fromPromise<void, { vm: string }>(async () => notProvided('reclaimLease')),
    failover: failoverMachine,
    protect: checkpointMachine,
    restore: restoreMachine,
  },
  guards: {
    restoring: stateIn('#vm.running.restore.restoring'),
  },
}).createMachine({
  id: 'vm',
  context: ({ input }) => ({
    ...input,
    role: 'secondary',
    layout: 'secondary',
    start: { kind: 'fresh' },
    reason: 'agent starting: looking for a running qemu',
    failover: NO_FAILOVER,
    rejoinSizes: null,
    refusal: null,
    coloRan: false,
  }),
  initial: 'reconciling',
  states: {
    reconciling: {
      invoke: {
        src: 'reconcile',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: {
          target: 'running',
          actions: assign(({ event }) => ({ role: event.output.role, layout: event.output.role, start: event.output.start, reason: `starting as ${event.output.role}` })),
        },
        onError: { target: 'broken', actions: assign({ reason: ({ event }) => `cannot start this VM: ${describeError(event.error)}` }) },
      },
    },
    running: {
      type: 'parallel',
      entry: assign({ failover: NO_FAILOVER, refusal: null }),
      invoke: {
        id: 'failover',
        src: 'failover',
        input: ({ context }) => ({
          vm: context.vm,
          node: context.node,
          role: context.role,
          policy: context.policy,
          epoch: 0,
          claimRetryMs: context.timings.claimRetryMs,
          claimDeadlineMs: context.timings.claimDeadlineMs,
          standbyRetryMs: context.timings.standbyRetryMs,
          actionTimeoutMs: context.timings.actionTimeoutMs,
          promotable: context.role === 'primary',
        }),
        onSnapshot: {
          actions: enqueueActions(({ context, event, enqueue, check }) => {
            const facts = factsOf(event.snapshot);
            // Took over: the failover child serves as primary now, and so does this node.
            if (facts.role === 'primary' && context.role === 'secondary') enqueue.assign({ role: 'primary', reason: 'took over: running as primary' });
            // A half-done first protection is not retried once the failover side acted: a restore brings protection back.
            if (facts.acted && !context.failover.acted) enqueue.sendTo('protect', { type: 'STAND_DOWN' });
            if (facts.fencing && !context.failover.fencing && check('restoring')) enqueue.sendTo('restore', { type: 'LEASE_LOST', reason: event.snapshot.context.reason });
            // The failover child's snapshot changes on every event it handles; the VM's own snapshot only when a fact it decides on changed.
            if (!sameFacts(facts, context.failover)) enqueue.assign({ failover: facts });
          }),
        },
      },
      on: {
        ...forwarding(FAILOVER_SIGNALS, 'failover'),
        ...forwarding(PROTECT_SIGNALS, 'protect'),
        REJOIN_REQUESTED: [
          {
            guard: ({ context, event }) =>
              rejoinRefusal({ vm: context.vm, qemuRunning: event.qemuRunning, role: context.role, failover: viewOf(context.failover), knownEpoch: event.knownEpoch, requestEpoch: event.epoch }) === null,
            target: 'rejoining',
            actions: assign({ rejoinSizes: ({ event }) => event.disks, refusal: null, reason: 'rejoining as a fresh secondary' }),
          },
          {
            actions: assign({
              refusal: ({ context, event }) =>
                rejoinRefusal({ vm: context.vm, qemuRunning: event.qemuRunning, role: context.role, failover: viewOf(context.failover), knownEpoch: event.knownEpoch, requestEpoch: event.epoch }),
            }),
          },
        ],
      },
      states: {
        protect: {
          initial: 'active',
          states: {
            active: {
              entry: assign({ coloRan: false }),
              invoke: {
                id: 'protect',
                src: 'protect',
                input: ({ context }) => ({
                  vm: context.vm,
                  node: context.node,
                  role: context.role,
                  protectTimeoutMs: context.timings.protectTimeoutMs,
                  stallBoundMs: context.timings.stallBoundMs,
                  retryDelayMs: context.timings.protectRetryMs,
                  resumeColo: context.start.kind === 'resume',
                  holdAdopted: context.start.kind === 'hold',
                  resumeReason: context.start.reason,
                  assumeIdentical: context.assumeIdentical,
                }),
                onSnapshot: {
                  // Once COLO has run, the secondary's disk is a complete replica: from then on it may take over.
                  guard: ({ context, event }) => !context.coloRan && event.snapshot.matches('coloRunning'),
                  actions: [assign({ coloRan: true }), sendTo('failover', { type: 'PROMOTABLE', value: true })],
                },
              },
            },
          },
          on: {
            RESTORE_DONE: { target: '.active', reenter: true },
          },
        },
        leaseAfterAdoption: {
          initial: 'deciding',
          states: {
            deciding: { always: [{ guard: ({ context }) => context.start.reclaimLease === true, target: 'reclaiming' }, { target: 'done' }] },
            // Adopted as primary: the lease is ours to keep; if someone else holds it now, the failover machine fences.
            reclaiming: {
              invoke: {
                src: 'reclaimLease',
                input: ({ context }) => ({ vm: context.vm }),
                onDone: { target: 'done', actions: sendTo('failover', { type: 'PEER_BACK' }) },
                onError: {
                  target: 'done',
                  actions: sendTo('failover', ({ event }) => ({ type: 'LEASE_LOST' as const, reason: `cannot hold the lease after adoption: ${describeError(event.error)}` })),
                },
              },
            },
            done: {},
          },
        },
        restore: {
          initial: 'idle',
          states: {
            idle: {
              on: {
                RESTORE_REQUESTED: [
                  { guard: ({ context, event }) => restoreRefusal({ peer: context.peer, to: event.to, failover: viewOf(context.failover) }) === null, target: 'restoring', actions: assign({ refusal: null }) },
                  { actions: assign({ refusal: ({ context, event }) => restoreRefusal({ peer: context.peer, to: event.to, failover: viewOf(context.failover) }) }) },
                ],
                AUTO_RESTORE_CHECK: {
                  guard: ({ context, event }) => shouldAutoRestore({ auto: context.autoRestore, restoreRunning: false, failover: viewOf(context.failover), ...event }),
                  target: 'restoring',
                },
              },
            },
            restoring: {
              entry: sendTo('restore', () => ({ type: 'RESTORE_REQUESTED' as const, at: Date.now() })),
              invoke: {
                id: 'restore',
                src: 'restore',
                input: ({ context }) => ({ vm: context.vm, node: context.node, peer: context.peer, retryBaseMs: context.timings.restoreRetryBaseMs, retryMaxMs: context.timings.restoreRetryMaxMs }),
                onDone: [
                  {
                    guard: ({ event }) => (event.output as { restored?: boolean } | undefined)?.restored === true,
                    target: 'idle',
                    // Restored: this node is the protected primary again, whatever it was before; the protect child starts anew watching COLO.
                    actions: [
                      assign({ role: 'primary', start: { kind: 'resume' }, reason: 'restored: protected primary' }),
                      sendTo('failover', { type: 'RESTORED' }),
                      raise({ type: 'RESTORE_DONE' }),
                    ],
                  },
                  { target: 'idle' },
                ],
              },
              on: {
                RESTORE_REQUESTED: { actions: sendTo('restore', ({ event }) => event) },
                RESYNC_PROGRESS: { actions: sendTo('restore', ({ event }) => event) },
              },
            },
          },
        },
      },
    },
    rejoining: {
      invoke: {
        src: 'resetForRejoin',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: { target: 'running', actions: assign({ role: 'secondary', layout: 'secondary', start: { kind: 'fresh' }, reason: 'rejoined: starting as a fresh secondary' }) },
        onError: { target: 'running', actions: assign({ role: 'secondary', layout: 'secondary', start: { kind: 'fresh' }, reason: 'rejoined (the old qemu did not stop cleanly): starting as a fresh secondary' }) },
      },
    },
    broken: { tags: ['broken'] },
  },
});

export type VmMachine = typeof vmMachine;
export type VmSnapshot = SnapshotFrom<typeof vmMachine>;
