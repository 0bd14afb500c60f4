import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { checkpointMachine, type ColoRole, type PeerEndpoints } from '../../../state-machines/checkpoint.js';
import {
  PEER,
  TIMING,
  advance,
  audit,
  controllable,
  flush,
  inputFor,
  primaryTo,
  reasonOf,
  secondaryToAwaitingPrimary,
  start,
  stateOf,
} from './checkpoint-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('checkpointMachine: coloRunning', () => {
  it('records checkpoints and keeps the stall timer from firing while they arrive', async () => {
    const { actor } = await primaryTo('coloRunning');
    await advance(800);
    actor.send({ type: 'CHECKPOINT_COMPLETED', at: 1_000, pauseMs: 12.5 });
    await advance(800);
    // 1600 ms since COLO started, 800 since the checkpoint: the bound counts from the last checkpoint.
    expect(stateOf(actor)).toBe('coloRunning');
    expect(reasonOf(actor)).not.toContain('resumed');
    actor.send({ type: 'CHECKPOINT_COMPLETED', at: 2_000, pauseMs: 7 });
    await advance(800);
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('coloRunning');
    expect(snap.context.checkpoints).toMatchObject({ count: 2, lastPauseMs: 7, lastAt: 2_000, recentAt: [1_000, 2_000] });
    await advance(200);
    expect(stateOf(actor)).toBe('stalled');
  });

  it('moves a primary to stalled after stallBoundMs without a checkpoint; a checkpoint brings it back', async () => {
    const { actor } = await primaryTo('coloRunning');
    await advance(TIMING.stallBoundMs - 1);
    expect(stateOf(actor)).toBe('coloRunning');
    await advance(1);
    const stalled = actor.getSnapshot();
    expect(stalled.value).toBe('stalled');
    expect(stalled.hasTag('degraded')).toBe(true);
    expect(stalled.hasTag('protected')).toBe(false);
    expect(stalled.context.reason).toContain('stalled');

    actor.send({ type: 'CHECKPOINT_COMPLETED', at: 5_000, pauseMs: 3 });
    const back = actor.getSnapshot();
    expect(back.value).toBe('coloRunning');
    expect(back.hasTag('protected')).toBe(true);
    expect(back.context.checkpoints).toMatchObject({ count: 1, lastAt: 5_000, lastPauseMs: 3 });
    expect(back.context.reason).toContain('resumed');
    await advance(TIMING.stallBoundMs);
    expect(stateOf(actor)).toBe('stalled');
  });

  it('COLO_EXITED in coloRunning or stalled goes to coloLost with the reason', async () => {
    const { actor } = await primaryTo('coloRunning');
    actor.send({ type: 'COLO_EXITED', reason: 'qemu left COLO primary mode (reason error)' });
    expect(stateOf(actor)).toBe('coloLost');
    expect(reasonOf(actor)).toBe('COLO stopped: qemu left COLO primary mode (reason error)');
    expect(actor.getSnapshot().hasTag('degraded')).toBe(true);

    const second = await primaryTo('coloRunning');
    await advance(TIMING.stallBoundMs);
    second.actor.send({ type: 'COLO_EXITED', reason: 'x' });
    expect(stateOf(second.actor)).toBe('coloLost');
  });

  it('a replicating audit is recorded in coloRunning without leaving it', async () => {
    const { actor } = await primaryTo('coloRunning');
    const before = reasonOf(actor);
    const a = audit('replicating', 1_234);
    actor.send({ type: 'REPLICATION_AUDITED', audit: a });
    const snap = actor.getSnapshot();
    expect(snap.value).toBe('coloRunning');
    expect(snap.hasTag('protected')).toBe(true);
    expect(snap.context.replication).toEqual(a);
    expect(snap.context.reason).toBe(before);
  });

  it('a degraded audit moves coloRunning to unreplicated; a replicating one brings it back', async () => {
    const { actor, f } = await primaryTo('coloRunning');
    actor.send({ type: 'REPLICATION_AUDITED', audit: audit('replicating', 1_000) });
    const broken = audit('degraded', 2_000);
    actor.send({ type: 'REPLICATION_AUDITED', audit: broken });
    let snap = actor.getSnapshot();
    expect(snap.value).toBe('unreplicated');
    expect(snap.hasTag('degraded')).toBe(true);
    expect(snap.hasTag('protected')).toBe(false);
    expect(snap.context.replication).toEqual(broken);
    expect(snap.context.reason).toBe(`not replicating: ${broken.reason}`);
    expect(snap.context.reason).toContain('disk 0');

    // Checkpoints still count while unreplicated, and no stall timer runs there.
    actor.send({ type: 'CHECKPOINT_COMPLETED', at: 2_500, pauseMs: 4 });
    await advance(TIMING.stallBoundMs * 5);
    snap = actor.getSnapshot();
    expect(snap.value).toBe('unreplicated');
    expect(snap.context.checkpoints).toMatchObject({ count: 1, lastAt: 2_500, lastPauseMs: 4 });

    // A further bad audit stays and updates the reason and the record.
    const again = { ...audit('degraded', 3_000), reason: 'disk 0: a write did not reach replication0 (Input/output error)' };
    actor.send({ type: 'REPLICATION_AUDITED', audit: again });
    snap = actor.getSnapshot();
    expect(snap.value).toBe('unreplicated');
    expect(snap.context.replication).toEqual(again);
    expect(snap.context.reason).toBe('not replicating: disk 0: a write did not reach replication0 (Input/output error)');

    const good = audit('replicating', 4_000);
    actor.send({ type: 'REPLICATION_AUDITED', audit: good });
    snap = actor.getSnapshot();
    expect(snap.value).toBe('coloRunning');
    expect(snap.hasTag('protected')).toBe(true);
    expect(snap.context.replication).toEqual(good);
    expect(snap.context.reason).toBe('replication verified again in qemu: COLO running');
    expect(f.cleanUpProtect.calls).toHaveLength(0);
  });

  it('a secondary goes unreplicated too, and COLO_EXITED there goes to coloLost', async () => {
    const { actor, f } = await secondaryToAwaitingPrimary();
    f.awaitColo.last().resolve();
    await flush();
    actor.send({ type: 'REPLICATION_AUDITED', audit: audit('degraded') });
    expect(stateOf(actor)).toBe('unreplicated');
    actor.send({ type: 'COLO_EXITED', reason: 'failover' });
    expect(stateOf(actor)).toBe('coloLost');
    expect(reasonOf(actor)).toBe('COLO stopped: failover');
  });

  it('ignores audits outside coloRunning/unreplicated', async () => {
    const { actor } = await primaryTo('awaitingSecondary');
    actor.send({ type: 'REPLICATION_AUDITED', audit: audit('degraded') });
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(actor.getSnapshot().context.replication).toBeNull();
  });

  it('ignores checkpoint events outside coloRunning/stalled', async () => {
    const { actor } = await primaryTo('awaitingSecondary');
    actor.send({ type: 'CHECKPOINT_COMPLETED', at: 1, pauseMs: 1 });
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(actor.getSnapshot().context.checkpoints.count).toBe(0);
  });
});

describe('checkpointMachine: QEMU_EXITED', () => {
  const cases = [
    ['secondary', 'preparingDisks'],
    ['secondary', 'awaitingPrimary'],
    ['primary', 'awaitingSecondary'],
    ['primary', 'syncing'],
    ['primary', 'migrating'],
    ['primary', 'coloRunning'],
  ] as const;
  it.each(cases)('%s in %s -> qemuGone with qemuPid null and the reason', async (role, state) => {
    const s =
      role === 'secondary'
        ? state === 'preparingDisks'
          ? start('secondary')
          : await secondaryToAwaitingPrimary()
        : await primaryTo(state as 'awaitingSecondary' | 'syncing' | 'migrating' | 'coloRunning');
    expect(stateOf(s.actor)).toBe(state);
    s.actor.send({ type: 'QEMU_EXITED', reason: 'signal SIGKILL' });
    const snap = s.actor.getSnapshot();
    expect(snap.value).toBe('qemuGone');
    expect(snap.context.qemuPid).toBeNull();
    expect(snap.context.reason).toBe('qemu exited: signal SIGKILL');
    expect(snap.hasTag('degraded')).toBe(true);
    expect(snap.hasTag('protected')).toBe(false);
  });

  it('aborts the invoked actor of the state it leaves', async () => {
    const { actor, f } = await primaryTo('migrating');
    const migration = f.startMigration.last();
    expect(migration.signal.aborted).toBe(false);
    actor.send({ type: 'QEMU_EXITED', reason: 'code 1' });
    expect(migration.signal.aborted).toBe(true);
    // A late settle of the aborted actor does not move the machine.
    migration.resolve();
    await flush();
    expect(stateOf(actor)).toBe('qemuGone');
  });

  it('does not abort an actor whose state finished normally', async () => {
    const { f } = await primaryTo('migrating');
    expect(f.launchQemu.last().signal.aborted).toBe(false);
    expect(f.syncPeer.last().signal.aborted).toBe(false);
    expect(f.attachReplication.last().signal.aborted).toBe(false);
  });
});

describe('checkpointMachine: default actors fail loudly', () => {
  it.each([
    ['secondary', 'cannot prepare disks: actor prepareDisks not provided'],
    ['primary', 'cannot launch qemu: actor launchQemu not provided'],
  ] as const)('%s without .provide() ends degraded naming the actor', async (role, reason) => {
    const actor = createActor(checkpointMachine, { input: inputFor(role) });
    actor.start();
    await flush();
    expect(stateOf(actor)).toBe(role === 'primary' ? 'launchFailed' : 'failed');
    expect(reasonOf(actor)).toBe(reason);
  });

  it('a partly provided machine names the missing actor', async () => {
    const launch = controllable<{ pid: number }, { vm: string; role: ColoRole }>();
    const actor = createActor(checkpointMachine.provide({ actors: { launchQemu: launch.logic } }), {
      input: inputFor('primary'),
    });
    actor.start();
    launch.last().resolve({ pid: 5 });
    await flush();
    expect(stateOf(actor)).toBe('awaitingRetry');
    // unprotected's clean-up is missing too, and says so after the cause.
    expect(reasonOf(actor)).toBe('secondary not usable: actor awaitPeerReady not provided (clean-up: actor cleanUpProtect not provided)');
  });
});

describe('checkpointMachine with xstate SimulatedClock', () => {
  it('the stall bound is read from input and measured on the injected clock', async () => {
    const clock = new SimulatedClock();
    const launch = controllable<{ pid: number }, { vm: string; role: ColoRole }>();
    const peer = controllable<PeerEndpoints, { vm: string }>();
    const withPeer = fromPromise<void, { vm: string; peer: PeerEndpoints }>(async () => undefined);
    const coloUp = fromPromise<void, { vm: string; role: ColoRole }>(async () => undefined);
    const cleanUp = fromPromise<void, { vm: string }>(async () => undefined);
    const machine = checkpointMachine.provide({
      actors: {
        launchQemu: launch.logic,
        awaitPeerReady: peer.logic,
        syncPeer: withPeer,
        attachReplication: withPeer,
        cleanUpProtect: cleanUp,
        startMigration: withPeer,
        awaitColo: coloUp,
      },
    });
    const actor = createActor(machine, { input: { ...inputFor('primary'), stallBoundMs: 30_000 }, clock });
    actor.start();
    launch.last().resolve({ pid: 9 });
    await flush();
    peer.last().resolve(PEER);
    await flush();
    expect(stateOf(actor)).toBe('coloRunning');
    clock.increment(29_999);
    expect(stateOf(actor)).toBe('coloRunning');
    clock.increment(1);
    expect(stateOf(actor)).toBe('stalled');
  });
});
