import { assign, fromPromise, setup } from 'xstate';
import { describeError } from '../shared/errors.js';
import { emptyCheckpointLog, recordCheckpoint } from './checkpoint-figures.js';
import type { CheckpointContext, CheckpointEvent, CheckpointInput, ColoRole, PeerEndpoints } from './checkpoint-types.js';
import { notProvided } from './not-provided.js';

export type { CheckpointContext, CheckpointEvent, CheckpointInput, ColoRole, PeerEndpoints, ReplicationView } from './checkpoint-types.js';

/** 2, 4, 8, 16, 32 s with the default 2 s base: a secondary that keeps failing is not hammered, a one-off failure is retried soon. */
const RETRY_BACKOFF_STEPS = 5;

export function retryBackoffMs(baseMs: number, failures: number): number {
  return baseMs * 2 ** (Math.min(Math.max(failures, 1), RETRY_BACKOFF_STEPS) - 1);
}

export const checkpointMachine = setup({
  types: {
    input: {} as CheckpointInput,
    context: {} as CheckpointContext,
    events: {} as CheckpointEvent,
  },
  actors: {
    prepareDisks: fromPromise<void, { vm: string }>(async () => notProvided('prepareDisks')),
    launchQemu: fromPromise<{ pid: number }, { vm: string; role: ColoRole }>(async () => notProvided('launchQemu')),
    exportDisks: fromPromise<void, { vm: string }>(async () => notProvided('exportDisks')),
    awaitPeerReady: fromPromise<PeerEndpoints, { vm: string }>(async () => notProvided('awaitPeerReady')),
    syncPeer: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => notProvided('syncPeer')),
    attachReplication: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => notProvided('attachReplication')),
    cleanUpProtect: fromPromise<void, { vm: string; resume: boolean }>(async () => notProvided('cleanUpProtect')),
    startMigration: fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => notProvided('startMigration')),
    awaitColo: fromPromise<void, { vm: string; role: ColoRole }>(async () => notProvided('awaitColo')),
  },
  guards: {
    isPrimary: ({ context }) => context.role === 'primary',
    // 'none' (a VM without COLO disks) has nothing to replicate: only 'degraded' is a finding.
    auditReplicating: ({ event }) => event.type === 'REPLICATION_AUDITED' && event.audit.state !== 'degraded',
  },
  delays: {
    protectTimeoutMs: ({ context }) => context.protectTimeoutMs,
    stallBoundMs: ({ context }) => context.stallBoundMs,
    retryBackoffMs: ({ context }) => retryBackoffMs(context.retryDelayMs, context.failures),
  },
  actions: {
    recordAudit: assign({ replication: ({ context, event }) => (event.type === 'REPLICATION_AUDITED' ? event.audit : context.replication) }),
    recordCheckpoint: assign({
      checkpoints: ({ context, event }) =>
        event.type === 'CHECKPOINT_COMPLETED' ? recordCheckpoint(context.checkpoints, event.at, event.pauseMs) : context.checkpoints,
    }),
  },
}).createMachine({
  id: 'checkpoint',
  context: ({ input }) => ({
    ...input,
    reason: 'agent starting',
    qemuPid: null,
    peer: null,
    checkpoints: emptyCheckpointLog,
    attempts: 0,
    replication: null,
    failures: 0,
    standDown: false,
  }),
  initial: 'starting',
  on: {
    STAND_DOWN: { actions: assign({ standDown: true }) },
    QEMU_EXITED: {
      target: '.qemuGone',
      actions: assign({ reason: ({ event }) => `qemu exited: ${event.reason}`, qemuPid: null }),
    },
  },
  states: {
    starting: {
      always: [
        { guard: ({ context }) => context.resumeColo === true, target: 'coloRunning', actions: assign({ reason: ({ context }) => context.resumeReason ?? 'COLO running: watching checkpoints' }) },
        { guard: ({ context }) => context.holdAdopted === true, target: 'adoptedIdle', actions: assign({ reason: ({ context }) => context.resumeReason ?? 'adopted a running qemu outside COLO' }) },
        { guard: 'isPrimary', target: 'launching', actions: assign({ reason: 'cold start as primary: launching qemu with a quorum drive' }) },
        { target: 'preparingDisks', actions: assign({ reason: 'starting as secondary: preparing active and hidden disks' }) },
      ],
    },
    preparingDisks: {
      invoke: {
        src: 'prepareDisks',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: { target: 'launching', actions: assign({ reason: 'disks ready: launching qemu to receive the COLO stream' }) },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `cannot prepare disks: ${describeError(event.error)}` }) },
      },
    },
    launching: {
      invoke: {
        src: 'launchQemu',
        input: ({ context }) => ({ vm: context.vm, role: context.role }),
        onDone: [
          {
            guard: 'isPrimary',
            target: 'awaitingSecondary',
            actions: assign({ qemuPid: ({ event }) => event.output.pid, reason: 'VM running unprotected: waiting for the secondary to be ready' }),
          },
          {
            target: 'exportingDisks',
            actions: assign({ qemuPid: ({ event }) => event.output.pid, reason: 'qemu waiting for the COLO stream: exporting disks over NBD' }),
          },
        ],
        onError: { target: 'launchFailed', actions: assign({ reason: ({ event }) => `cannot launch qemu: ${describeError(event.error)}` }) },
      },
    },
    exportingDisks: {
      invoke: {
        src: 'exportDisks',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: { target: 'awaitingPrimary', actions: assign({ reason: 'ready: waiting for the primary to start COLO' }) },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `cannot export disks: ${describeError(event.error)}` }) },
      },
    },
    awaitingPrimary: {
      tags: ['waiting', 'ready'],
      on: {
        PRIMARY_REFUSED: { actions: assign({ reason: ({ event }) => `refused the primary: ${event.reason}` }) },
      },
      invoke: {
        src: 'awaitColo',
        input: ({ context }) => ({ vm: context.vm, role: context.role }),
        onDone: { target: 'coloRunning', actions: assign({ reason: 'COLO running: receiving checkpoints from the primary' }) },
        onError: { target: 'failed', actions: assign({ reason: ({ event }) => `waiting for COLO failed: ${describeError(event.error)}` }) },
      },
      after: {
        protectTimeoutMs: {
          target: 'awaitingPrimary',
          reenter: true,
          actions: assign({ reason: 'still waiting: the primary has not started COLO yet' }),
        },
      },
    },
    awaitingSecondary: {
      tags: ['waiting'],
      entry: assign({ attempts: ({ context }) => context.attempts + 1 }),
      on: {
        STAND_DOWN: { target: 'superseded', actions: assign({ standDown: true, reason: 'the failover machine acted: a restore brings protection back' }) },
      },
      invoke: {
        src: 'awaitPeerReady',
        input: ({ context }) => ({ vm: context.vm }),
        onDone: [
          {
            guard: ({ context }) => context.assumeIdentical === true,
            target: 'attaching',
            actions: assign({
              peer: ({ event }) => event.output,
              reason: ({ event }) => `secondary ${event.output.node} ready; its disks are assumed identical (assumeIdentical, not copied): attaching the replication child`,
            }),
          },
          {
            target: 'syncing',
            actions: assign({
              peer: ({ event }) => event.output,
              reason: ({ event }) => `secondary ${event.output.node} ready: copying every COLO disk onto it before protecting`,
            }),
          },
        ],
        onError: { target: 'unprotected', actions: assign({ reason: ({ event }) => `secondary not usable: ${describeError(event.error)}` }) },
      },
      after: {
        protectTimeoutMs: {
          target: 'awaitingSecondary',
          reenter: true,
          actions: assign({ reason: 'VM running unprotected: the secondary is still not ready' }),
        },
      },
    },
    syncing: {
      tags: ['waiting'],
      on: {
        SYNC_PROGRESS: {
          actions: assign({
            reason: ({ context, event }) =>
              `copying the disks onto ${context.peer?.node ?? 'the secondary'}: ${event.bytesTotal > 0 ? Math.floor((100 * event.bytesDone) / event.bytesTotal) : 0}% of ${event.bytesTotal} bytes`,
          }),
        },
      },
      invoke: {
        src: 'syncPeer',
        input: ({ context }) => ({ vm: context.vm, peer: context.peer! }),
        onDone: { target: 'attaching', actions: assign({ reason: 'disks in sync: pausing the VM to link the replication child' }) },
        onError: { target: 'unprotected', actions: assign({ reason: ({ event }) => `cannot copy the disks onto the secondary: ${describeError(event.error)}` }) },
      },
    },
    attaching: {
      invoke: {
        src: 'attachReplication',
        input: ({ context }) => ({ vm: context.vm, peer: context.peer! }),
        onDone: { target: 'migrating', actions: assign({ reason: 'replication attached, VM paused until COLO starts replicating: migrating into COLO' }) },
        onError: { target: 'unprotected', actions: assign({ reason: ({ event }) => `cannot attach replication: ${describeError(event.error)}` }) },
      },
    },
    migrating: {
      invoke: {
        src: 'startMigration',
        input: ({ context }) => ({ vm: context.vm, peer: context.peer! }),
        onDone: { target: 'enteringColo', actions: assign({ reason: 'migration started: waiting for both sides to report COLO' }) },
        onError: { target: 'unprotected', actions: assign({ reason: ({ event }) => `migration into COLO failed: ${describeError(event.error)}` }) },
      },
    },
    enteringColo: {
      invoke: {
        src: 'awaitColo',
        input: ({ context }) => ({ vm: context.vm, role: context.role }),
        onDone: { target: 'coloRunning', actions: assign({ failures: 0, reason: 'COLO running: the secondary follows every checkpoint' }) },
        onError: { target: 'unprotected', actions: assign({ reason: ({ event }) => `COLO did not start: ${describeError(event.error)}` }) },
      },
      after: {
        protectTimeoutMs: { target: 'unprotected', actions: assign({ reason: 'COLO did not start in time' }) },
      },
    },
    coloRunning: {
      tags: ['protected', 'coloUp'],
      on: {
        CHECKPOINT_COMPLETED: { target: 'coloRunning', reenter: true, actions: 'recordCheckpoint' },
        REPLICATION_AUDITED: [
          { guard: 'auditReplicating', actions: 'recordAudit' },
          { target: 'unreplicated', actions: ['recordAudit', assign({ reason: ({ event }) => `not replicating: ${event.audit.reason}` })] },
        ],
        COLO_EXITED: { target: 'coloLost', actions: assign({ reason: ({ event }) => `COLO stopped: ${event.reason}` }) },
      },
      after: {
        stallBoundMs: {
          guard: 'isPrimary',
          target: 'stalled',
          actions: assign({ reason: 'checkpoints stalled: none completed within the expected bound' }),
        },
      },
    },
    stalled: {
      tags: ['degraded', 'coloUp'],
      on: {
        REPLICATION_AUDITED: [
          { guard: 'auditReplicating', actions: 'recordAudit' },
          { target: 'unreplicated', actions: ['recordAudit', assign({ reason: ({ event }) => `not replicating: ${event.audit.reason}` })] },
        ],
        CHECKPOINT_COMPLETED: {
          target: 'coloRunning',
          actions: ['recordCheckpoint', assign({ reason: 'checkpoints resumed: COLO running' })],
        },
        COLO_EXITED: { target: 'coloLost', actions: assign({ reason: ({ event }) => `COLO stopped: ${event.reason}` }) },
      },
    },
    unreplicated: {
      tags: ['degraded', 'coloUp', 'unreplicated'],
      on: {
        CHECKPOINT_COMPLETED: { actions: 'recordCheckpoint' },
        REPLICATION_AUDITED: [
          { guard: 'auditReplicating', target: 'coloRunning', actions: ['recordAudit', assign({ reason: 'replication verified again in qemu: COLO running' })] },
          { actions: ['recordAudit', assign({ reason: ({ event }) => `not replicating: ${event.audit.reason}` })] },
        ],
        COLO_EXITED: { target: 'coloLost', actions: assign({ reason: ({ event }) => `COLO stopped: ${event.reason}` }) },
      },
    },
    unprotected: {
      tags: ['degraded'],
      // Never leave the VM paused, a mirror running or a half-linked child behind a failed attempt.
      invoke: {
        src: 'cleanUpProtect',
        // Once the failover machine acted (it may have fenced the VM) the clean-up never resumes the guest.
        input: ({ context }) => ({ vm: context.vm, resume: !context.standDown }),
        onDone: { target: 'awaitingRetry' },
        onError: { target: 'awaitingRetry', actions: assign({ reason: ({ context, event }) => `${context.reason} (clean-up: ${describeError(event.error)})` }) },
      },
    },
    // Any failed attempt is tried again, from asking the secondary, after a growing delay: one slow step must not leave the VM unprotected for good.
    awaitingRetry: {
      tags: ['degraded'],
      entry: assign({ failures: ({ context }) => context.failures + 1 }),
      after: {
        retryBackoffMs: [
          { guard: ({ context }) => context.standDown, target: 'superseded', actions: assign({ reason: ({ context }) => `${context.reason}; the failover machine acted, a restore brings protection back` }) },
          { target: 'awaitingSecondary', actions: assign({ peer: null }) },
        ],
      },
    },
    superseded: { tags: ['degraded'] },
    // A qemu that did not come up (its monitor did not greet in time on a loaded host) was killed: start again, later each time.
    launchFailed: {
      tags: ['degraded'],
      entry: assign({ failures: ({ context }) => context.failures + 1 }),
      after: { retryBackoffMs: { target: 'starting', actions: assign({ reason: ({ context }) => `${context.reason}; starting again` }) } },
    },
    coloLost: { tags: ['degraded'] },
    adoptedIdle: { tags: ['degraded'] },
    qemuGone: { tags: ['degraded'] },
    failed: { tags: ['degraded'] },
  },
});

export type CheckpointMachine = typeof checkpointMachine;
