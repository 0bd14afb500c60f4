import { assign, fromPromise, setup } from 'xstate';
import { describeError } from '../shared/errors.js';
import type { PeerEndpoints } from './checkpoint.js';
import { notProvided } from './not-provided.js';

/**
 * Runs on the survivor (running alone as primary): brings a fresh secondary
 * back, resynchronises its disk with drive-mirror, then re-enters COLO with
 * the guest paused only for the switchover. Failures retry with backoff and
 * never leave the running VM paused.
 */
export interface RestoreInput {
  vm: string;
  node: string;
  peer: string;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface ResyncProgress {
  bytesDone: number;
  bytesTotal: number;
  rateBytesPerSec: number;
  etaMs: number | null;
}

export interface RestoreContext extends RestoreInput {
  reason: string;
  attempts: number;
  endpoints: PeerEndpoints | null;
  progress: ResyncProgress | null;
  startedAt: number | null;
  resyncStartedAt: number | null;
  resyncReadyAt: number | null;
  pauseMs: number | null;
  doneAt: number | null;
}

export type RestoreEvent =
  | { type: 'RESTORE_REQUESTED'; at: number }
  | { type: 'RESYNC_PROGRESS'; progress: ResyncProgress }
  | { type: 'LEASE_LOST'; reason: string };

export function backoffMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

export const restoreMachine = setup({
  types: { input: {} as RestoreInput, context: {} as RestoreContext, events: {} as RestoreEvent },
  actors: {
    requestRejoin: fromPromise<void, { vm: string; peer: string }>(async () => notProvided('requestRejoin')),
    awaitPeerReady: fromPromise<PeerEndpoints, { vm: string }>(async () => notProvided('awaitPeerReady')),
    resync: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => notProvided('resync')),
    switchOver: fromPromise<{ pauseMs: number }, { vm: string; peer: PeerEndpoints }>(async () => notProvided('switchOver')),
    migrateIntoColo: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => notProvided('migrateIntoColo')),
    cleanUp: fromPromise<void, { vm: string }>(async () => notProvided('cleanUp')),
  },
  delays: {
    backoffMs: ({ context }) => backoffMs(context.attempts, context.retryBaseMs, context.retryMaxMs),
  },
  actions: {
    failed: assign({
      reason: ({ event, context }) => `restore attempt ${context.attempts} failed: ${describeError((event as { error?: unknown }).error)}; retrying`,
    }),
  },
}).createMachine({
  id: 'restore',
  // The parent learns how the restore ended: protected again, or aborted (lease lost).
  output: ({ context }) => ({ restored: context.doneAt !== null }),
  context: ({ input }) => ({
    ...input,
    reason: 'running alone: waiting to restore protection',
    attempts: 0,
    endpoints: null,
    progress: null,
    startedAt: null,
    resyncStartedAt: null,
    resyncReadyAt: null,
    pauseMs: null,
    doneAt: null,
  }),
  initial: 'idle',
  on: {
    LEASE_LOST: { target: '.aborted', actions: assign({ reason: ({ event }) => `restore aborted: this node lost the lease (${event.reason})` }) },
  },
  states: {
    idle: {
      on: {
        RESTORE_REQUESTED: { target: 'preparingPeer', actions: assign({ startedAt: ({ event }) => event.at, attempts: 0 }) },
      },
    },
    preparingPeer: {
      tags: ['restoring'],
      // A retry starts clean: no figures of the previous attempt are shown beside the new ones.
      entry: assign({
        attempts: ({ context }) => context.attempts + 1,
        reason: ({ context }) => `asking ${context.peer} to start as a fresh secondary`,
        endpoints: null,
        resyncStartedAt: null,
        resyncReadyAt: null,
        pauseMs: null,
      }),
      invoke: {
        src: 'requestRejoin',
        input: ({ context }) => ({ vm: context.vm, peer: context.peer }),
        onDone: { target: 'waitingForPeer' },
        onError: { target: 'backingOff', actions: 'failed' },
      },
    },
    waitingForPeer: {
      tags: ['restoring'],
      entry: assign({ reason: ({ context }) => `waiting for ${context.peer} to be ready as secondary` }),
      invoke: {
        src: 'awaitPeerReady',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: {
          target: 'resyncing',
          actions: assign({ endpoints: ({ event }) => event.output, resyncStartedAt: () => Date.now(), progress: null }),
        },
        onError: { target: 'backingOff', actions: 'failed' },
      },
    },
    resyncing: {
      tags: ['restoring', 'resyncing'],
      entry: assign({ reason: ({ context }) => `resynchronising the disk to ${context.peer} (drive-mirror)` }),
      on: {
        RESYNC_PROGRESS: { actions: assign({ progress: ({ event }) => event.progress }) },
      },
      invoke: {
        src: 'resync',
        input: ({ context }) => ({ vm: context.vm, peer: context.endpoints! }),
        onDone: { target: 'switching', actions: assign({ resyncReadyAt: () => Date.now() }) },
        onError: { target: 'backingOff', actions: 'failed' },
      },
    },
    switching: {
      tags: ['restoring', 'resyncing', 'inSync'],
      entry: assign({ reason: 'disk in sync: pausing briefly to attach the replication child' }),
      invoke: {
        src: 'switchOver',
        input: ({ context }) => ({ vm: context.vm, peer: context.endpoints! }),
        onDone: { target: 'migrating', actions: assign({ pauseMs: ({ event }) => event.output.pauseMs }) },
        onError: { target: 'backingOff', actions: 'failed' },
      },
    },
    migrating: {
      tags: ['restoring', 'resyncing', 'inSync'],
      entry: assign({ reason: 'replication attached, VM resumed: migrating live into COLO' }),
      invoke: {
        src: 'migrateIntoColo',
        input: ({ context }) => ({ vm: context.vm, peer: context.endpoints! }),
        onDone: { target: 'restored', actions: assign({ doneAt: () => Date.now(), reason: ({ context }) => `protected again: ${context.peer} is the secondary` }) },
        onError: { target: 'backingOff', actions: 'failed' },
      },
    },
    backingOff: {
      tags: ['restoring'],
      invoke: { src: 'cleanUp', input: ({ context }) => ({ vm: context.vm }), onError: { actions: assign({ reason: ({ context, event }) => `${context.reason} (clean-up: ${describeError(event.error)})` }) } },
      after: { backoffMs: { target: 'preparingPeer' } },
      on: { RESTORE_REQUESTED: { target: 'preparingPeer' } },
    },
    restored: { type: 'final' },
    aborted: { type: 'final' },
  },
});

export type RestoreMachine = typeof restoreMachine;
