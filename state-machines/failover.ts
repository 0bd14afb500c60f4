import { assign, fromPromise, raise, setup } from 'xstate';
import { describeError } from '../shared/errors.js';
import { claimConflict, claimText, coloOverBy, failureOf, leaseWon, whyIncomplete } from './failover-context.js';
import type { ActionOutput, ClaimOutput, FailoverContext, FailoverEvent, FailoverInput, FailoverRole } from './failover-types.js';
import { notProvided } from './not-provided.js';

/**
 * Decides and performs takeover for one VM on one node. A timer alone never
 * promotes: only winning the lease (an atomic compare-and-set that bumps the
 * epoch) does, except under the `relaxed` policy, which may act on heartbeat
 * loss alone and says so in every decision.
 */
export type { ActionOutput, ClaimOutput, FailoverContext, FailoverEvent, FailoverInput, FailoverPolicy, FailoverRole, TakeoverSteps } from './failover-types.js';
export { isStaleEpoch } from './epoch.js';

export const failoverMachine = setup({
  types: {
    input: {} as FailoverInput,
    context: {} as FailoverContext,
    events: {} as FailoverEvent,
  },
  actors: {
    claimLease: fromPromise<ClaimOutput, { vm: string; force: boolean }>(async () => notProvided('claimLease')),
    /** While the lease is being won, and only once COLO is over for certain: cut the links to the peer (never resume the VM). */
    prepareTakeover: fromPromise<void, { vm: string; role: FailoverRole; cut: boolean }>(async () => notProvided('prepareTakeover')),
    takeOver: fromPromise<ActionOutput, { vm: string; epoch: number }>(async () => notProvided('takeOver')),
    carryOnAlone: fromPromise<ActionOutput, { vm: string; epoch: number }>(async () => notProvided('carryOnAlone')),
    fenceVm: fromPromise<void, { vm: string }>(async () => notProvided('fenceVm')),
    releaseLease: fromPromise<void, { vm: string }>(async () => notProvided('releaseLease')),
  },
  guards: {
    isSecondary: ({ context }) => context.role === 'secondary',
    isPrimary: ({ context }) => context.role === 'primary',
    isRelaxed: ({ context }) => context.policy === 'relaxed',
    natsDown: ({ context }) => !context.natsUp,
    peerAlive: ({ context }) => context.peerAlive,
    notPromotable: ({ context }) => context.role === 'secondary' && !context.promotable,
    claimDeadlinePassed: ({ context }) => context.claimDeadlinePassed,
  },
  delays: {
    claimRetryMs: ({ context }) => context.claimRetryMs,
    claimDeadlineMs: ({ context }) => context.claimDeadlineMs,
    standbyRetryMs: ({ context }) => context.standbyRetryMs,
    actionTimeoutMs: ({ context }) => context.actionTimeoutMs,
  },
  actions: {
    peerGone: assign({ peerAlive: false }),
    noteTrigger: assign({
      trigger: ({ event }) => ('reason' in event ? event.reason : event.type),
      detectedAt: ({ event }) => ('at' in event ? event.at : Date.now()),
      leaseWonAt: null,
      takeoverAt: null,
      takeoverSteps: null,
      coloOver: ({ event }) => coloOverBy(event),
    }),
  },
}).createMachine({
  id: 'failover',
  context: ({ input }) => ({
    ...input,
    reason: 'watching the peer',
    natsUp: true,
    peerAlive: false,
    peerSilent: false,
    trigger: null,
    detectedAt: null,
    leaseWonAt: null,
    takeoverAt: null,
    unreplicatedSinceSync: false,
    claimDeadlinePassed: false,
    claimFailure: null,
    claimed: null,
    coloOver: false,
    takeoverSteps: null,
  }),
  initial: 'watching',
  on: {
    NATS_DOWN: { actions: assign({ natsUp: false }) },
    NATS_UP: { actions: assign({ natsUp: true }) },
    PROMOTABLE: { actions: assign({ promotable: ({ context, event }) => event.value && !context.unreplicatedSinceSync }) },
    REPLICATION_UNVERIFIED: { actions: assign({ promotable: ({ context }) => context.role === 'primary', unreplicatedSinceSync: true }) },
    PEER_LOST: { actions: assign({ peerAlive: false }) },
    PEER_BACK: { actions: assign({ peerAlive: true, peerSilent: false }) },
  },
  states: {
    watching: {
      tags: ['watching', 'steady'],
      on: {
        PEER_LOST: [
          { guard: 'natsDown', actions: ['peerGone', assign({ reason: 'NATS unreachable: not judging the peer without it' })] },
          {
            guard: ({ event }) => event.type === 'PEER_LOST' && event.coloAlive === true,
            actions: ['peerGone', assign({ peerSilent: true, reason: ({ event }) => `peer agent silent (${event.reason}) but checkpoints still complete: its VM is alive, not failing over` })],
          },
          {
            guard: 'notPromotable',
            target: 'notPromotable',
            actions: ['peerGone', 'noteTrigger', assign({ reason: ({ context, event }) => `peer lost (${event.reason}) but this node's disk is incomplete (${whyIncomplete(context)}): not taking over` })],
          },
          {
            target: 'claiming',
            actions: ['peerGone', 'noteTrigger', assign({ reason: ({ event }) => `peer lost (${event.reason}): claiming the lease` })],
          },
        ],
        LEASE_HANDED_OVER: [
          { guard: 'notPromotable', target: 'notPromotable', actions: ['peerGone', 'noteTrigger', assign({ reason: ({ context, event }) => `${event.reason} but this node's disk is incomplete (${whyIncomplete(context)}): not taking over` })] },
          { target: 'claiming', actions: ['peerGone', 'noteTrigger', assign({ reason: ({ event }) => `${event.reason}: taking the lease` })] },
        ],
        SILENT_PEER_CHECK: {
          guard: ({ context, event }) => !event.peerBeating && event.everBeat && !event.coloAlive && !context.peerAlive && context.natsUp,
          actions: raise(({ event }) => ({ type: 'PEER_LOST' as const, reason: `no heartbeat from ${event.peer} and no checkpoint for a while`, at: event.at, coloAlive: false })),
        },
        LOCAL_COLO_FAILED: [
          {
            guard: 'notPromotable',
            target: 'notPromotable',
            actions: ['noteTrigger', assign({ reason: ({ context, event }) => `COLO failed (${event.reason}) but this node's disk is incomplete (${whyIncomplete(context)}): not taking over` })],
          },
          {
            target: 'claiming',
            actions: ['noteTrigger', assign({ reason: ({ event }) => `COLO failed locally (${event.reason}): claiming the lease` })],
          },
        ],
        LOCAL_QEMU_LOST: {
          target: 'releasing',
          actions: ['noteTrigger', assign({ reason: ({ event }) => `our qemu is gone (${event.reason}): handing the lease over` })],
        },
        REPLICATION_BROKEN: {
          guard: 'isPrimary',
          target: 'carryingOn',
          actions: ['noteTrigger', assign({ reason: ({ event }) => `replication broken (${event.reason}): dropping the secondary so a resync can repair it` })],
        },
        LEASE_LOST: {
          guard: 'isPrimary',
          target: 'fencing',
          actions: assign({ reason: ({ event }) => `lease lost (${event.reason}): fencing the VM before the peer may take over` }),
        },
        NATS_DOWN: { actions: assign({ natsUp: false, reason: 'NATS unreachable: this is not a dead peer; waiting for NATS' }) },
        NATS_UP: { actions: assign({ natsUp: true, reason: 'watching the peer' }) },
      },
    },
    claiming: {
      tags: ['failingOver'],
      // Compare-and-set until won or until the dead side's lease must have expired; an attempt in flight is never cut off.
      initial: 'attempting',
      entry: assign({ claimDeadlinePassed: false, claimFailure: null }),
      // The takeover itself repeats whatever this did not finish.
      invoke: { src: 'prepareTakeover', input: ({ context }) => ({ vm: context.vm, role: context.role, cut: context.coloOver }), onError: {} },
      after: { claimDeadlineMs: { actions: assign({ claimDeadlinePassed: true }) } },
      on: {
        LEASE_LOST: { guard: 'isPrimary', target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost while claiming (${event.reason}): fencing the VM` }) },
      },
      states: {
        attempting: {
          invoke: {
            src: 'claimLease',
            input: ({ context }) => ({ vm: context.vm, force: false }),
            onDone: { target: 'won', actions: assign({ claimed: ({ event }) => event.output }) },
            onError: { target: 'waiting', actions: assign({ claimFailure: ({ event }) => failureOf(event.error) }) },
          },
        },
        waiting: {
          always: { guard: 'claimDeadlinePassed', target: 'deciding' },
          after: { claimRetryMs: { target: 'attempting' } },
        },
        deciding: {
          always: [
            { guard: ({ context }) => context.role === 'primary' && claimConflict(context), target: '#failover.fencing', actions: assign({ reason: ({ context }) => `the lease moved on while acting as primary (${claimText(context)}): fencing the VM` }) },
            { guard: ({ context }) => context.policy === 'relaxed' && claimConflict(context) && !context.claimFailure?.forced, target: 'forcing' },
            { guard: ({ context }) => claimConflict(context), target: '#failover.standingBy', actions: assign({ reason: ({ context }) => `not taking over: the peer still holds the lease (${claimText(context)})` }) },
            { guard: 'isRelaxed', target: '#failover.actingWithoutLease', actions: assign({ leaseWonAt: null, reason: ({ context }) => `WARNING relaxed policy: acting on heartbeat loss alone, lease not won (${claimText(context)})` }) },
            { target: '#failover.passive', actions: assign({ reason: ({ context }) => `strict policy: cannot win the lease (${claimText(context)}); staying passive` }) },
          ],
        },
        forcing: {
          // Relaxed policy only: the holder is evidently alive, but heartbeats say otherwise and the operator chose availability.
          invoke: {
            src: 'claimLease',
            input: ({ context }) => ({ vm: context.vm, force: true }),
            onDone: { target: 'won', actions: assign({ claimed: ({ event }) => event.output }) },
            onError: { target: 'deciding', actions: assign({ claimFailure: ({ event }) => ({ ...failureOf(event.error), forced: true }) }) },
          },
        },
        won: {
          always: [
            { guard: 'isSecondary', target: '#failover.takingOver', actions: assign(({ context }) => leaseWon(context, 'taking over as primary')) },
            { target: '#failover.carryingOn', actions: assign(({ context }) => leaseWon(context, 'dropping the secondary and carrying on alone')) },
          ],
        },
      },
    },
    actingWithoutLease: {
      tags: ['failingOver'],
      always: [{ guard: 'isSecondary', target: 'takingOver' }, { target: 'carryingOn' }],
    },
    takingOver: {
      tags: ['failingOver', 'acted'],
      on: {
        LEASE_LOST: { target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost during takeover (${event.reason}): fencing the VM` }) },
      },
      after: { actionTimeoutMs: { target: 'failed', actions: assign({ reason: 'takeover did not finish in time; operator action needed' }) } },
      invoke: {
        src: 'takeOver',
        input: ({ context }) => ({ vm: context.vm, epoch: context.epoch }),
        onDone: {
          target: 'runningAlone',
          actions: assign({
            role: 'primary',
            takeoverAt: ({ event }) => event.output.at,
            takeoverSteps: ({ event }) => event.output.steps,
            reason: ({ context }) => `took over after ${context.trigger ?? 'the primary was lost'}: running alone as primary, epoch ${context.epoch}`,
          }),
        },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `takeover failed: ${describeError(event.error)}; operator action needed` }) },
      },
    },
    carryingOn: {
      tags: ['failingOver', 'acted'],
      on: {
        LEASE_LOST: { target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost while dropping the secondary (${event.reason}): fencing the VM` }) },
      },
      after: { actionTimeoutMs: { target: 'failed', actions: assign({ reason: 'dropping the secondary did not finish in time; operator action needed' }) } },
      invoke: {
        src: 'carryOnAlone',
        input: ({ context }) => ({ vm: context.vm, epoch: context.epoch }),
        onDone: {
          target: 'runningAlone',
          actions: assign({
            takeoverAt: ({ event }) => event.output.at,
            takeoverSteps: ({ event }) => event.output.steps,
            reason: ({ context }) => `secondary lost (${context.trigger ?? 'unknown'}): running alone, not protected`,
          }),
        },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `carrying on alone failed: ${describeError(event.error)}; operator action needed` }) },
      },
    },
    runningAlone: {
      tags: ['active', 'alone', 'acted'],
      on: {
        RESTORED: { target: 'watching', actions: assign({ role: 'primary', reason: 'protected again: a fresh secondary follows in COLO' }) },
        LEASE_LOST: { target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost while running alone (${event.reason}): fencing the VM` }) },
        LOCAL_QEMU_LOST: { target: 'releasing', actions: assign({ trigger: ({ event }) => event.reason, reason: ({ event }) => `our qemu is gone (${event.reason}): handing the lease over` }) },
      },
    },
    standingBy: {
      tags: ['watching', 'standingBy'],
      on: {
        PEER_BACK: { target: 'watching', actions: assign({ peerAlive: true, reason: 'peer is back: watching' }) },
        LOCAL_COLO_FAILED: { target: 'claiming', actions: ['noteTrigger', assign({ reason: ({ event }) => `COLO failed locally (${event.reason}): claiming the lease` })] },
        LEASE_HANDED_OVER: { target: 'claiming', actions: ['noteTrigger', assign({ reason: ({ event }) => `${event.reason}: taking the lease` })] },
        LEASE_LOST: { guard: 'isPrimary', target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost (${event.reason}): fencing the VM` }) },
        LOCAL_QEMU_LOST: { target: 'releasing', actions: assign({ reason: ({ event }) => `our qemu is gone (${event.reason}): handing the lease over` }) },
      },
      after: {
        standbyRetryMs: [
          { guard: 'peerAlive', target: 'watching', actions: assign({ reason: 'peer is alive: watching' }) },
          { target: 'claiming', actions: assign({ reason: 'peer still silent: trying the lease again' }) },
        ],
      },
    },
    passive: {
      tags: ['watching', 'passive'],
      on: {
        NATS_UP: { target: 'claiming', actions: assign({ natsUp: true, reason: 'NATS is back: trying the lease again' }) },
        LEASE_HANDED_OVER: { target: 'claiming', actions: ['noteTrigger', assign({ reason: ({ event }) => `${event.reason}: taking the lease` })] },
        PEER_BACK: { target: 'watching', actions: assign({ peerAlive: true, reason: 'peer is back: watching' }) },
        LEASE_LOST: { guard: 'isPrimary', target: 'fencing', actions: assign({ reason: ({ event }) => `lease lost (${event.reason}): fencing the VM` }) },
        LOCAL_QEMU_LOST: { target: 'releasing', actions: assign({ reason: ({ event }) => `our qemu is gone (${event.reason}): handing the lease over` }) },
      },
      after: { standbyRetryMs: { target: 'claiming', actions: assign({ reason: 'trying the lease again' }) } },
    },
    fencing: {
      tags: ['fenced', 'acted'],
      invoke: {
        src: 'fenceVm',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: { target: 'fenced', actions: assign({ reason: ({ context }) => `${context.reason}: VM paused, waiting to be restored` }) },
        onError: { target: 'fenced', actions: assign({ reason: ({ event }) => `fencing: ${describeError(event.error)}; the VM is not serving` }) },
      },
    },
    fenced: { tags: ['fenced', 'acted', 'paused'] },
    notPromotable: { tags: ['down'], on: { PEER_BACK: { target: 'watching', actions: assign({ peerAlive: true, reason: 'peer is back: watching' }) } } },
    releasing: {
      tags: ['down', 'acted'],
      invoke: {
        src: 'releaseLease',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: { target: 'down' },
        onError: { target: 'down', actions: assign({ reason: ({ context, event }) => `${context.reason} (release failed: ${describeError(event.error)}; the peer waits for expiry)` }) },
      },
    },
    down: { tags: ['down', 'acted', 'stopped'] },
    failed: { tags: ['down', 'acted'] },
  },
});

export type FailoverMachine = typeof failoverMachine;

