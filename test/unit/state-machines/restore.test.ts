import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, type Actor } from 'xstate';
import type { PeerEndpoints } from '../../../state-machines/checkpoint.js';
import {
  backoffMs,
  restoreMachine,
  type RestoreEvent,
  type RestoreInput,
  type ResyncProgress,
} from '../../../state-machines/restore.js';
import { advance, controllable, flush, PEER } from './checkpoint-harness.js';

const T0 = 1_700_000_000_000;
const BASE_MS = 1_000;
const MAX_MS = 8_000;

const INPUT: RestoreInput = { vm: 'vm1', node: 'alpha', peer: 'beta', retryBaseMs: BASE_MS, retryMaxMs: MAX_MS };

type PeerInput = { vm: string; peer: PeerEndpoints };

function restoreFakes() {
  return {
    requestRejoin: controllable<void, { vm: string; peer: string }>(),
    awaitPeerReady: controllable<PeerEndpoints, { vm: string }>(),
    resync: controllable<void, PeerInput>(),
    switchOver: controllable<{ pauseMs: number }, PeerInput>(),
    migrateIntoColo: controllable<void, PeerInput>(),
    cleanUp: controllable<void, { vm: string }>(),
  };
}
type RestoreFakes = ReturnType<typeof restoreFakes>;
type RestoreActor = Actor<typeof restoreMachine>;

function startRestore(input: RestoreInput = INPUT) {
  const f = restoreFakes();
  const machine = restoreMachine.provide({
    actors: {
      requestRejoin: f.requestRejoin.logic,
      awaitPeerReady: f.awaitPeerReady.logic,
      resync: f.resync.logic,
      switchOver: f.switchOver.logic,
      migrateIntoColo: f.migrateIntoColo.logic,
      cleanUp: f.cleanUp.logic,
    },
  });
  const actor = createActor(machine, { input });
  actor.start();
  const send = (event: RestoreEvent): void => actor.send(event);
  return { actor, f, send };
}

const stateOf = (a: RestoreActor): unknown => a.getSnapshot().value;
const ctxOf = (a: RestoreActor) => a.getSnapshot().context;
const tagsOf = (a: RestoreActor): string[] => [...a.getSnapshot().tags].sort();

const WORKING = ['preparingPeer', 'waitingForPeer', 'resyncing', 'switching', 'migrating'] as const;
type Working = (typeof WORKING)[number];

/** The fake for the actor invoked in each working state. */
function actorFor(f: RestoreFakes, state: Working) {
  switch (state) {
    case 'preparingPeer':
      return f.requestRejoin;
    case 'waitingForPeer':
      return f.awaitPeerReady;
    case 'resyncing':
      return f.resync;
    case 'switching':
      return f.switchOver;
    case 'migrating':
      return f.migrateIntoColo;
  }
}

/** Settles the actor of the current working state successfully, 100 ms of fake time later. */
async function completeStep(f: RestoreFakes, state: Working): Promise<void> {
  await advance(100);
  switch (state) {
    case 'preparingPeer':
      f.requestRejoin.last().resolve();
      break;
    case 'waitingForPeer':
      f.awaitPeerReady.last().resolve(PEER);
      break;
    case 'resyncing':
      f.resync.last().resolve();
      break;
    case 'switching':
      f.switchOver.last().resolve({ pauseMs: 42 });
      break;
    case 'migrating':
      f.migrateIntoColo.last().resolve();
      break;
  }
  await flush();
}

/** From a fresh actor: request the restore at T0 and complete steps until `target` is running. */
async function driveTo(target: Working) {
  const s = startRestore();
  s.send({ type: 'RESTORE_REQUESTED', at: T0 });
  await flush();
  for (const state of WORKING) {
    if (state === target) break;
    await completeStep(s.f, state);
  }
  expect(stateOf(s.actor)).toBe(target);
  return s;
}

/** From backingOff (after a failure): let the backoff pass, then complete steps until `target`. */
async function retryTo(s: ReturnType<typeof startRestore>, delayMs: number, target: Working): Promise<void> {
  await advance(delayMs);
  expect(stateOf(s.actor)).toBe('preparingPeer');
  for (const state of WORKING) {
    if (state === target) break;
    await completeStep(s.f, state);
  }
  expect(stateOf(s.actor)).toBe(target);
}

const PROGRESS: ResyncProgress = { bytesDone: 1 << 20, bytesTotal: 4 << 20, rateBytesPerSec: 1 << 19, etaMs: 6_000 };

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('backoffMs', () => {
  it.each([
    // attempts, base, max, expected
    [0, 1_000, 30_000, 1_000],
    [1, 1_000, 30_000, 1_000],
    [2, 1_000, 30_000, 2_000],
    [3, 1_000, 30_000, 4_000],
    [4, 1_000, 30_000, 8_000],
    [5, 1_000, 30_000, 16_000],
    [6, 1_000, 30_000, 30_000],
    [7, 1_000, 30_000, 30_000],
    [40, 1_000, 30_000, 30_000],
    [1, 250, 1_000, 250],
    [3, 250, 1_000, 1_000],
    [3, 250, 800, 800],
    [1, 5_000, 2_000, 2_000],
    [-3, 1_000, 30_000, 1_000],
  ])('attempt %i with base %i and max %i waits %i ms', (attempts, base, max, expected) => {
    expect(backoffMs(attempts, base, max)).toBe(expected);
  });

  it('never decreases as attempts grow and never exceeds the cap', () => {
    let previous = 0;
    for (let attempts = 0; attempts <= 64; attempts++) {
      const ms = backoffMs(attempts, 100, 10_000);
      expect(ms).toBeGreaterThanOrEqual(previous);
      expect(ms).toBeLessThanOrEqual(10_000);
      previous = ms;
    }
    expect(previous).toBe(10_000);
  });
});

describe('restore machine: idle', () => {
  it('starts idle with the input in context and no work running', async () => {
    const { actor, f } = startRestore();
    await advance(60_000);
    expect(stateOf(actor)).toBe('idle');
    expect(tagsOf(actor)).toEqual([]);
    expect(ctxOf(actor)).toMatchObject({
      ...INPUT,
      reason: 'running alone: waiting to restore protection',
      attempts: 0,
      endpoints: null,
      progress: null,
      startedAt: null,
      resyncStartedAt: null,
      resyncReadyAt: null,
      pauseMs: null,
      doneAt: null,
    });
    for (const fake of Object.values(f)) expect(fake.calls).toHaveLength(0);
  });

  it('ignores resync progress while idle', () => {
    const { actor, send } = startRestore();
    send({ type: 'RESYNC_PROGRESS', progress: PROGRESS });
    expect(stateOf(actor)).toBe('idle');
    expect(ctxOf(actor).progress).toBeNull();
  });

  it('RESTORE_REQUESTED starts preparing the peer: attempt 1, startedAt from the event', () => {
    const { actor, f, send } = startRestore();
    send({ type: 'RESTORE_REQUESTED', at: T0 - 5 });
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(ctxOf(actor).attempts).toBe(1);
    expect(ctxOf(actor).startedAt).toBe(T0 - 5);
    expect(ctxOf(actor).reason).toBe('asking beta to start as a fresh secondary');
    expect(f.requestRejoin.calls).toHaveLength(1);
    expect(f.requestRejoin.last().input).toEqual({ vm: 'vm1', peer: 'beta' });
    expect(f.requestRejoin.last().signal.aborted).toBe(false);
  });
});

describe('restore machine: the happy path', () => {
  it('walks preparingPeer -> waitingForPeer -> resyncing -> switching -> migrating -> restored', async () => {
    const { actor, f, send } = startRestore();
    send({ type: 'RESTORE_REQUESTED', at: T0 });
    await flush();
    expect(stateOf(actor)).toBe('preparingPeer');

    await completeStep(f, 'preparingPeer');
    expect(stateOf(actor)).toBe('waitingForPeer');
    expect(ctxOf(actor).reason).toBe('waiting for beta to be ready as secondary');
    expect(f.awaitPeerReady.last().input).toEqual({ vm: 'vm1' });
    expect(f.requestRejoin.last().signal.aborted).toBe(false);

    await completeStep(f, 'waitingForPeer');
    expect(stateOf(actor)).toBe('resyncing');
    expect(ctxOf(actor).endpoints).toEqual(PEER);
    expect(ctxOf(actor).reason).toBe('resynchronising the disk to beta (drive-mirror)');
    expect(f.resync.last().input).toEqual({ vm: 'vm1', peer: PEER });

    await completeStep(f, 'resyncing');
    expect(stateOf(actor)).toBe('switching');
    expect(ctxOf(actor).reason).toBe('disk in sync: pausing briefly to attach the replication child');
    expect(f.switchOver.last().input).toEqual({ vm: 'vm1', peer: PEER });

    await completeStep(f, 'switching');
    expect(stateOf(actor)).toBe('migrating');
    expect(ctxOf(actor).pauseMs).toBe(42);
    expect(ctxOf(actor).reason).toBe('replication attached, VM resumed: migrating live into COLO');
    expect(f.migrateIntoColo.last().input).toEqual({ vm: 'vm1', peer: PEER });

    await completeStep(f, 'migrating');
    expect(stateOf(actor)).toBe('restored');
    expect(actor.getSnapshot().status).toBe('done');
    expect(tagsOf(actor)).toEqual([]);
    expect(ctxOf(actor).reason).toBe('protected again: beta is the secondary');
    expect(ctxOf(actor).reason).toMatch(/protected again/);
    expect(ctxOf(actor).attempts).toBe(1);
    expect(f.cleanUp.calls).toHaveLength(0);
  });

  it('records the timeline in order: startedAt < resyncStartedAt < resyncReadyAt < doneAt', async () => {
    const { actor, f } = await driveTo('migrating');
    await completeStep(f, 'migrating');
    const c = ctxOf(actor);
    // 100 ms of fake time passes before each step completes (see completeStep).
    expect(c.startedAt).toBe(T0);
    expect(c.resyncStartedAt).toBe(T0 + 200);
    expect(c.resyncReadyAt).toBe(T0 + 300);
    expect(c.doneAt).toBe(T0 + 500);
    expect(c.pauseMs).toBe(42);
  });

  it('sets each timeline field only when its step completes', async () => {
    const { actor, f } = await driveTo('waitingForPeer');
    expect(ctxOf(actor)).toMatchObject({ startedAt: T0, resyncStartedAt: null, resyncReadyAt: null, doneAt: null, pauseMs: null });
    await completeStep(f, 'waitingForPeer');
    expect(ctxOf(actor)).toMatchObject({ resyncStartedAt: T0 + 200, resyncReadyAt: null, doneAt: null, pauseMs: null });
    await completeStep(f, 'resyncing');
    expect(ctxOf(actor)).toMatchObject({ resyncReadyAt: T0 + 300, doneAt: null, pauseMs: null });
    await completeStep(f, 'switching');
    expect(ctxOf(actor)).toMatchObject({ pauseMs: 42, doneAt: null });
  });

  it('RESYNC_PROGRESS updates context.progress while resyncing', async () => {
    const { actor, send } = await driveTo('resyncing');
    expect(ctxOf(actor).progress).toBeNull();
    send({ type: 'RESYNC_PROGRESS', progress: PROGRESS });
    expect(ctxOf(actor).progress).toEqual(PROGRESS);
    const later: ResyncProgress = { bytesDone: 4 << 20, bytesTotal: 4 << 20, rateBytesPerSec: 1 << 20, etaMs: null };
    send({ type: 'RESYNC_PROGRESS', progress: later });
    expect(ctxOf(actor).progress).toEqual(later);
    expect(stateOf(actor)).toBe('resyncing');
  });

  it('ignores resync progress outside resyncing', async () => {
    const { actor, f, send } = await driveTo('resyncing');
    send({ type: 'RESYNC_PROGRESS', progress: PROGRESS });
    await completeStep(f, 'resyncing');
    expect(stateOf(actor)).toBe('switching');
    send({ type: 'RESYNC_PROGRESS', progress: { ...PROGRESS, bytesDone: 1 } });
    expect(ctxOf(actor).progress).toEqual(PROGRESS);
  });

  it('ignores RESTORE_REQUESTED while a restore is already running', async () => {
    const { actor, f, send } = await driveTo('resyncing');
    send({ type: 'RESTORE_REQUESTED', at: T0 + 9_999 });
    expect(stateOf(actor)).toBe('resyncing');
    expect(ctxOf(actor).startedAt).toBe(T0);
    expect(ctxOf(actor).attempts).toBe(1);
    expect(f.requestRejoin.calls).toHaveLength(1);
    expect(f.resync.last().signal.aborted).toBe(false);
  });
});

describe('restore machine: tags', () => {
  it.each([
    ['preparingPeer', ['restoring']],
    ['waitingForPeer', ['restoring']],
    ['resyncing', ['restoring', 'resyncing']],
    ['switching', ['inSync', 'restoring', 'resyncing']],
    ['migrating', ['inSync', 'restoring', 'resyncing']],
  ] as const)('%s is tagged %j', async (state, tags) => {
    const { actor } = await driveTo(state);
    expect(tagsOf(actor)).toEqual([...tags]);
  });

  it('backingOff is restoring but not resyncing', async () => {
    const { actor, f } = await driveTo('switching');
    f.switchOver.last().reject(new Error('x'));
    await flush();
    expect(stateOf(actor)).toBe('backingOff');
    expect(tagsOf(actor)).toEqual(['restoring']);
  });

  it('idle, restored and aborted carry no tags', async () => {
    const a = startRestore();
    expect(tagsOf(a.actor)).toEqual([]);
    a.send({ type: 'LEASE_LOST', reason: 'r' });
    expect(tagsOf(a.actor)).toEqual([]);
    const b = await driveTo('migrating');
    await completeStep(b.f, 'migrating');
    expect(tagsOf(b.actor)).toEqual([]);
  });
});

describe('restore machine: failures back off and retry', () => {
  it.each(WORKING)('a failure in %s goes to backingOff, cleans up and retries from preparingPeer after the base backoff', async (state) => {
    const { actor, f } = await driveTo(state);
    const failing = actorFor(f, state).last();
    failing.reject(new Error(`${state} exploded`));
    await flush();

    expect(stateOf(actor)).toBe('backingOff');
    expect(ctxOf(actor).reason).toBe(`restore attempt 1 failed: ${state} exploded; retrying`);
    expect(ctxOf(actor).attempts).toBe(1);
    expect(f.cleanUp.calls).toHaveLength(1);
    expect(f.cleanUp.last().input).toEqual({ vm: 'vm1' });
    f.cleanUp.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('backingOff');

    // backingOff was entered at the flush above, so the retry is due BASE_MS after it.
    await advance(BASE_MS - 1);
    expect(stateOf(actor)).toBe('backingOff');
    expect(f.requestRejoin.calls).toHaveLength(1);
    await advance(1);
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(ctxOf(actor).attempts).toBe(2);
    expect(ctxOf(actor).reason).toBe('asking beta to start as a fresh secondary');
    expect(f.requestRejoin.calls).toHaveLength(2);
    expect(f.requestRejoin.last().input).toEqual({ vm: 'vm1', peer: 'beta' });
    // startedAt is the time the operator asked, not the retry.
    expect(ctxOf(actor).startedAt).toBe(T0);
  });

  it('describes a non-Error rejection too', async () => {
    const { actor, f } = await driveTo('waitingForPeer');
    f.awaitPeerReady.last().reject('peer agent went away');
    await flush();
    expect(ctxOf(actor).reason).toBe('restore attempt 1 failed: peer agent went away; retrying');
  });

  it('backs off exponentially (base, 2x, 4x, ...) capped at retryMaxMs, naming each attempt', async () => {
    const s = await driveTo('preparingPeer');
    const waits: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      s.f.requestRejoin.last().reject(new Error(`refused #${attempt}`));
      await flush();
      expect(stateOf(s.actor)).toBe('backingOff');
      expect(ctxOf(s.actor).reason).toBe(`restore attempt ${attempt} failed: refused #${attempt}; retrying`);
      const expected = backoffMs(attempt, BASE_MS, MAX_MS);
      await advance(expected - 1);
      expect(stateOf(s.actor)).toBe('backingOff');
      await advance(1);
      expect(stateOf(s.actor)).toBe('preparingPeer');
      expect(ctxOf(s.actor).attempts).toBe(attempt + 1);
      waits.push(expected);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(s.f.cleanUp.calls).toHaveLength(6);
  });

  it('a retry after a late failure goes through every step again and can succeed', async () => {
    const s = await driveTo('migrating');
    s.f.migrateIntoColo.last().reject(new Error('migration stream broke'));
    await flush();
    expect(ctxOf(s.actor).reason).toBe('restore attempt 1 failed: migration stream broke; retrying');

    await retryTo(s, BASE_MS, 'migrating');
    expect(s.f.requestRejoin.calls).toHaveLength(2);
    expect(s.f.awaitPeerReady.calls).toHaveLength(2);
    expect(s.f.resync.calls).toHaveLength(2);
    expect(s.f.switchOver.calls).toHaveLength(2);
    expect(s.f.migrateIntoColo.calls).toHaveLength(2);
    await completeStep(s.f, 'migrating');
    expect(stateOf(s.actor)).toBe('restored');
    const c = ctxOf(s.actor);
    expect(c.attempts).toBe(2);
    expect(c.reason).toBe('protected again: beta is the secondary');
    // The successful attempt's timeline is consistent.
    expect(c.startedAt).toBe(T0);
    expect(c.resyncStartedAt!).toBeLessThan(c.resyncReadyAt!);
    expect(c.resyncReadyAt!).toBeLessThan(c.doneAt!);
  });

  it('the retried resync starts with progress cleared', async () => {
    const s = await driveTo('resyncing');
    s.send({ type: 'RESYNC_PROGRESS', progress: PROGRESS });
    s.f.resync.last().reject(new Error('mirror job failed'));
    await flush();
    await retryTo(s, BASE_MS, 'resyncing');
    expect(ctxOf(s.actor).progress).toBeNull();
  });

  it('a failing clean-up is noted in the reason but does not stop the retry', async () => {
    const { actor, f } = await driveTo('resyncing');
    f.resync.last().reject(new Error('mirror job failed'));
    await flush();
    f.cleanUp.last().reject(new Error('block-job-cancel timed out'));
    await flush();
    expect(stateOf(actor)).toBe('backingOff');
    expect(ctxOf(actor).reason).toBe('restore attempt 1 failed: mirror job failed; retrying (clean-up: block-job-cancel timed out)');
    await advance(BASE_MS);
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(ctxOf(actor).attempts).toBe(2);
  });

  it('a clean-up still running when the backoff ends is cancelled', async () => {
    const { actor, f } = await driveTo('preparingPeer');
    f.requestRejoin.last().reject(new Error('no'));
    await flush();
    const cleanUp = f.cleanUp.last();
    await advance(BASE_MS);
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(cleanUp.signal.aborted).toBe(true);
  });

  it('RESTORE_REQUESTED during backingOff retries at once and drops the pending timer', async () => {
    const { actor, f, send } = await driveTo('waitingForPeer');
    f.awaitPeerReady.last().reject(new Error('peer not ready'));
    await flush();
    expect(stateOf(actor)).toBe('backingOff');
    await advance(10);
    send({ type: 'RESTORE_REQUESTED', at: T0 + 5_000 });
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(ctxOf(actor).attempts).toBe(2);
    expect(f.requestRejoin.calls).toHaveLength(2);
    // The old backoff timer must not fire a second retry.
    await advance(MAX_MS * 2);
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(f.requestRejoin.calls).toHaveLength(2);
    expect(f.requestRejoin.last().signal.aborted).toBe(false);
  });

  it('a failure in the RESTORE_REQUESTED retry backs off for 2x base (attempt 2)', async () => {
    const { actor, f, send } = await driveTo('preparingPeer');
    f.requestRejoin.last().reject(new Error('first'));
    await flush();
    send({ type: 'RESTORE_REQUESTED', at: T0 + 1 });
    f.requestRejoin.last().reject(new Error('second'));
    await flush();
    expect(ctxOf(actor).reason).toBe('restore attempt 2 failed: second; retrying');
    await advance(2 * BASE_MS - 1);
    expect(stateOf(actor)).toBe('backingOff');
    await advance(1);
    expect(stateOf(actor)).toBe('preparingPeer');
    expect(ctxOf(actor).attempts).toBe(3);
  });
});

describe('restore machine: LEASE_LOST aborts', () => {
  const aborted = (why: string) => `restore aborted: this node lost the lease (${why})`;

  it('from idle', () => {
    const { actor, send } = startRestore();
    send({ type: 'LEASE_LOST', reason: 'epoch 5 claimed by beta' });
    expect(stateOf(actor)).toBe('aborted');
    expect(actor.getSnapshot().status).toBe('done');
    expect(ctxOf(actor).reason).toBe(aborted('epoch 5 claimed by beta'));
  });

  it.each(WORKING)('from %s, cancelling the running step', async (state) => {
    const { actor, f, send } = await driveTo(state);
    const running = actorFor(f, state).last();
    expect(running.signal.aborted).toBe(false);
    send({ type: 'LEASE_LOST', reason: 'lease expired' });
    expect(stateOf(actor)).toBe('aborted');
    expect(actor.getSnapshot().status).toBe('done');
    expect(ctxOf(actor).reason).toBe(aborted('lease expired'));
    expect(running.signal.aborted).toBe(true);
    expect(f.cleanUp.calls).toHaveLength(0);

    // A late settlement of the cancelled step changes nothing.
    await completeStep(f, state);
    expect(stateOf(actor)).toBe('aborted');
  });

  it('from backingOff, cancelling the clean-up and the retry timer', async () => {
    const { actor, f, send } = await driveTo('switching');
    f.switchOver.last().reject(new Error('x-blockdev-change failed'));
    await flush();
    const cleanUp = f.cleanUp.last();
    send({ type: 'LEASE_LOST', reason: 'NATS KV revision moved' });
    expect(stateOf(actor)).toBe('aborted');
    expect(ctxOf(actor).reason).toBe(aborted('NATS KV revision moved'));
    expect(cleanUp.signal.aborted).toBe(true);
    await advance(MAX_MS * 4);
    expect(stateOf(actor)).toBe('aborted');
    expect(f.requestRejoin.calls).toHaveLength(1);
  });

  it('aborted is final: a new RESTORE_REQUESTED does nothing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { actor, f, send } = await driveTo('resyncing');
    send({ type: 'LEASE_LOST', reason: 'lost' });
    send({ type: 'RESTORE_REQUESTED', at: T0 + 1 });
    await advance(MAX_MS);
    expect(stateOf(actor)).toBe('aborted');
    expect(f.requestRejoin.calls).toHaveLength(1);
    warn.mockRestore();
  });

  it('restored is final: a later LEASE_LOST leaves it restored', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { actor, f, send } = await driveTo('migrating');
    await completeStep(f, 'migrating');
    send({ type: 'LEASE_LOST', reason: 'too late' });
    expect(stateOf(actor)).toBe('restored');
    expect(ctxOf(actor).reason).toBe('protected again: beta is the secondary');
    warn.mockRestore();
  });
});
