import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retryBackoffMs } from '../../../state-machines/checkpoint.js';
import {
  PEER,
  TIMING,
  advance,
  flush,
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

describe('checkpointMachine: secondary path', () => {
  it('prepares disks, launches, exports, waits for the primary, then runs COLO', async () => {
    const { actor, f } = start('secondary');
    expect(stateOf(actor)).toBe('preparingDisks');
    expect(f.prepareDisks.last().input).toEqual({ vm: 'vm1' });
    expect(f.launchQemu.calls).toHaveLength(0);

    f.prepareDisks.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('launching');
    expect(f.launchQemu.last().input).toEqual({ vm: 'vm1', role: 'secondary' });

    f.launchQemu.last().resolve({ pid: 4242 });
    await flush();
    expect(stateOf(actor)).toBe('exportingDisks');
    expect(actor.getSnapshot().context.qemuPid).toBe(4242);

    f.exportDisks.last().resolve();
    await flush();
    const waiting = actor.getSnapshot();
    expect(waiting.value).toBe('awaitingPrimary');
    expect(waiting.hasTag('waiting')).toBe(true);
    expect(waiting.hasTag('ready')).toBe(true);
    expect(waiting.hasTag('protected')).toBe(false);
    expect(f.awaitColo.last().input).toEqual({ vm: 'vm1', role: 'secondary' });

    f.awaitColo.last().resolve();
    await flush();
    const running = actor.getSnapshot();
    expect(running.value).toBe('coloRunning');
    expect(running.hasTag('protected')).toBe(true);
    expect(running.hasTag('degraded')).toBe(false);
    expect(f.awaitPeerReady.calls).toHaveLength(0);
  });

  it('awaitingPrimary re-enters after protectTimeoutMs, restarting awaitColo with a new reason', async () => {
    const { actor, f } = await secondaryToAwaitingPrimary();
    const first = f.awaitColo.last();
    const before = reasonOf(actor);
    await advance(TIMING.protectTimeoutMs - 1);
    expect(f.awaitColo.calls).toHaveLength(1);
    await advance(1);
    expect(stateOf(actor)).toBe('awaitingPrimary');
    expect(reasonOf(actor)).not.toBe(before);
    expect(reasonOf(actor)).toContain('still waiting');
    expect(f.awaitColo.calls).toHaveLength(2);
    expect(first.signal.aborted).toBe(true);
    expect(f.awaitColo.last().signal.aborted).toBe(false);
  });

  it('does not stall-alarm a secondary: it only receives checkpoints', async () => {
    const { actor, f } = await secondaryToAwaitingPrimary();
    f.awaitColo.last().resolve();
    await flush();
    await advance(TIMING.stallBoundMs * 10);
    expect(stateOf(actor)).toBe('coloRunning');
    expect(actor.getSnapshot().hasTag('protected')).toBe(true);
  });
});

describe('checkpointMachine: primary path', () => {
  it('launches, waits for the secondary, attaches, migrates, enters COLO', async () => {
    const { actor, f } = start('primary');
    expect(stateOf(actor)).toBe('launching');
    expect(f.prepareDisks.calls).toHaveLength(0);
    expect(f.launchQemu.last().input).toEqual({ vm: 'vm1', role: 'primary' });

    f.launchQemu.last().resolve({ pid: 1001 });
    await flush();
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(actor.getSnapshot().hasTag('waiting')).toBe(true);
    expect(actor.getSnapshot().context).toMatchObject({ qemuPid: 1001, attempts: 1 });

    expect(actor.getSnapshot().context.replication).toBeNull();

    f.awaitPeerReady.last().resolve(PEER);
    await flush();
    expect(stateOf(actor)).toBe('syncing');
    expect(actor.getSnapshot().hasTag('waiting')).toBe(true);
    expect(actor.getSnapshot().context.peer).toEqual(PEER);
    expect(reasonOf(actor)).toBe('secondary beta ready: copying every COLO disk onto it before protecting');
    expect(f.syncPeer.last().input).toEqual({ vm: 'vm1', peer: PEER });
    expect(f.attachReplication.calls).toHaveLength(0);

    f.syncPeer.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('attaching');
    expect(reasonOf(actor)).toBe('disks in sync: pausing the VM to link the replication child');
    expect(f.attachReplication.last().input).toEqual({ vm: 'vm1', peer: PEER });

    f.attachReplication.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('migrating');
    expect(reasonOf(actor)).toContain('VM paused until COLO starts replicating');
    expect(f.startMigration.last().input).toEqual({ vm: 'vm1', peer: PEER });

    f.startMigration.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('enteringColo');
    expect(f.awaitColo.last().input).toEqual({ vm: 'vm1', role: 'primary' });

    f.awaitColo.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('coloRunning');
    expect(actor.getSnapshot().hasTag('protected')).toBe(true);
    // Not audited yet: nothing proven from qemu.
    expect(actor.getSnapshot().context.replication).toBeNull();
    expect(f.exportDisks.calls).toHaveLength(0);
    expect(f.cleanUpProtect.calls).toHaveLength(0);
  });

  it('assumeIdentical skips the copy: awaitingSecondary goes straight to attaching', async () => {
    const { actor, f } = start('primary', { assumeIdentical: true });
    f.launchQemu.last().resolve({ pid: 1001 });
    await flush();
    f.awaitPeerReady.last().resolve(PEER);
    await flush();
    expect(stateOf(actor)).toBe('attaching');
    expect(actor.getSnapshot().context.peer).toEqual(PEER);
    expect(reasonOf(actor)).toBe(
      'secondary beta ready; its disks are assumed identical (assumeIdentical, not copied): attaching the replication child',
    );
    expect(f.syncPeer.calls).toHaveLength(0);
    expect(f.attachReplication.last().input).toEqual({ vm: 'vm1', peer: PEER });
  });

  it('syncing shows the copy progress from SYNC_PROGRESS', async () => {
    const { actor, f } = await primaryTo('syncing');
    actor.send({ type: 'SYNC_PROGRESS', bytesDone: 1 << 19, bytesTotal: 1 << 20 });
    expect(stateOf(actor)).toBe('syncing');
    expect(reasonOf(actor)).toBe(`copying the disks onto beta: 50% of ${1 << 20} bytes`);
    actor.send({ type: 'SYNC_PROGRESS', bytesDone: 0, bytesTotal: 0 });
    expect(reasonOf(actor)).toBe('copying the disks onto beta: 0% of 0 bytes');
    expect(f.syncPeer.calls).toHaveLength(1);
    expect(f.syncPeer.last().signal.aborted).toBe(false);
  });

  it('awaitingSecondary re-enters after protectTimeoutMs, counting attempts and restarting awaitPeerReady', async () => {
    const { actor, f } = await primaryTo('awaitingSecondary');
    const first = f.awaitPeerReady.last();
    await advance(TIMING.protectTimeoutMs);
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(reasonOf(actor)).toContain('still not ready');
    expect(actor.getSnapshot().context.attempts).toBe(2);
    expect(f.awaitPeerReady.calls).toHaveLength(2);
    expect(first.signal.aborted).toBe(true);
  });

  it('enteringColo gives up after protectTimeoutMs and aborts awaitColo', async () => {
    const { actor, f } = await primaryTo('enteringColo');
    await advance(TIMING.protectTimeoutMs);
    expect(stateOf(actor)).toBe('unprotected');
    expect(reasonOf(actor)).toBe('COLO did not start in time');
    expect(actor.getSnapshot().hasTag('degraded')).toBe(true);
    expect(f.awaitColo.last().signal.aborted).toBe(true);
  });
});

describe('checkpointMachine: invoke errors', () => {
  it.each([
    ['prepareDisks', 'cannot prepare disks'],
    ['launchQemu', 'cannot launch qemu'],
    ['exportDisks', 'cannot export disks'],
    ['awaitColo', 'waiting for COLO failed'],
  ] as const)('secondary: %s failing ends in failed', async (name, prefix) => {
    const s = start('secondary');
    const steps = ['prepareDisks', 'launchQemu', 'exportDisks', 'awaitColo'] as const;
    for (const step of steps) {
      if (step === name) break;
      if (step === 'launchQemu') s.f.launchQemu.last().resolve({ pid: 7 });
      else s.f[step].last().resolve();
      await flush();
    }
    s.f[name].last().reject(new Error('boom 42'));
    await flush();
    expect(stateOf(s.actor)).toBe(name === 'launchQemu' ? 'launchFailed' : 'failed');
    expect(reasonOf(s.actor)).toBe(`${prefix}: boom 42`);
    expect(s.actor.getSnapshot().hasTag('degraded')).toBe(true);
  });

  it('primary: a qemu that did not come up is launched again, later each time', async () => {
    const { actor, f } = start('primary');
    f.launchQemu.last().reject(new Error('QMP handshake failed: timed out'));
    await flush();
    expect(stateOf(actor)).toBe('launchFailed');
    expect(reasonOf(actor)).toBe('cannot launch qemu: QMP handshake failed: timed out');
    expect(actor.getSnapshot().hasTag('degraded')).toBe(true);
    await advance(TIMING.retryDelayMs - 1);
    expect(f.launchQemu.calls).toHaveLength(1);
    await advance(1);
    expect(stateOf(actor)).toBe('launching');
    expect(f.launchQemu.calls).toHaveLength(2);
    f.launchQemu.last().reject(new Error('again'));
    await flush();
    await advance(2 * TIMING.retryDelayMs - 1);
    expect(stateOf(actor)).toBe('launchFailed');
    await advance(1);
    f.launchQemu.last().resolve({ pid: 9 });
    await flush();
    expect(stateOf(actor)).toBe('awaitingSecondary');
  });

  it('secondary: a failed launch prepares fresh overlays before the next one', async () => {
    const { actor, f } = start('secondary');
    f.prepareDisks.last().resolve();
    await flush();
    f.launchQemu.last().reject(new Error('QMP handshake failed'));
    await flush();
    await advance(TIMING.retryDelayMs);
    expect(stateOf(actor)).toBe('preparingDisks');
    expect(f.prepareDisks.calls).toHaveLength(2);
  });

  it.each([
    ['awaitingSecondary', 'awaitPeerReady', 'secondary not usable'],
    ['syncing', 'syncPeer', 'cannot copy the disks onto the secondary'],
    ['attaching', 'attachReplication', 'cannot attach replication'],
    ['migrating', 'startMigration', 'migration into COLO failed'],
    ['enteringColo', 'awaitColo', 'COLO did not start'],
  ] as const)('primary: %s (%s) failing goes to unprotected', async (state, name, prefix) => {
    const { actor, f } = await primaryTo(state);
    expect(stateOf(actor)).toBe(state);
    f[name].last().reject(new Error('peer said no'));
    await flush();
    expect(stateOf(actor)).toBe('unprotected');
    expect(reasonOf(actor)).toBe(`${prefix}: peer said no`);
    // A failed attempt is cleaned up (VM resumed, mirror cancelled, half-linked child removed).
    expect(f.cleanUpProtect.last().input).toEqual({ vm: 'vm1', resume: true });
    f.cleanUpProtect.last().resolve();
    await flush();
    expect(reasonOf(actor)).toBe(`${prefix}: peer said no`);
  });

  it('a failing clean-up is appended to the unprotected reason', async () => {
    const { actor, f } = await primaryTo('attaching');
    f.attachReplication.last().reject(new Error('nbd refused'));
    await flush();
    f.cleanUpProtect.last().reject(new Error('cont failed'));
    await flush();
    expect(stateOf(actor)).toBe('awaitingRetry');
    expect(reasonOf(actor)).toBe('cannot attach replication: nbd refused (clean-up: cont failed)');
  });

  it('describes a non-Error rejection too', async () => {
    const { actor, f } = start('primary');
    f.launchQemu.last().reject('plain string');
    await flush();
    expect(reasonOf(actor)).toContain('plain string');
  });
});

describe('checkpointMachine: unprotected retry', () => {
  it('retries awaitingSecondary after retryDelayMs when no peer was obtained', async () => {
    const { actor, f } = await primaryTo('awaitingSecondary');
    f.awaitPeerReady.last().reject(new Error('no responders'));
    await flush();
    expect(stateOf(actor)).toBe('unprotected');
    f.cleanUpProtect.last().resolve();
    await flush();
    await advance(TIMING.retryDelayMs - 1);
    expect(stateOf(actor)).toBe('awaitingRetry');
    await advance(1);
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(actor.getSnapshot().context.attempts).toBe(2);
    expect(f.awaitPeerReady.calls).toHaveLength(2);
    expect(f.cleanUpProtect.calls).toHaveLength(1);
  });

  it('retries from asking the secondary after a failure with a peer, once the clean-up is done, with a doubling delay', async () => {
    const { actor, f } = await primaryTo('attaching');
    f.attachReplication.last().reject(new Error('nbd refused'));
    await flush();
    expect(stateOf(actor)).toBe('unprotected');
    await advance(TIMING.retryDelayMs * 10);
    // No retry while the clean-up (resume the VM, cancel the mirror) is still running.
    expect(stateOf(actor)).toBe('unprotected');
    expect(f.cleanUpProtect.last().input).toEqual({ vm: 'vm1', resume: true });
    f.cleanUpProtect.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('awaitingRetry');
    expect(reasonOf(actor)).toBe('cannot attach replication: nbd refused');
    await advance(TIMING.retryDelayMs);
    expect(stateOf(actor)).toBe('awaitingSecondary');
    expect(actor.getSnapshot().context.peer).toBeNull();
    expect(f.awaitPeerReady.calls).toHaveLength(2);
    // A second failure waits twice as long.
    f.awaitPeerReady.last().reject(new Error('no responders'));
    await flush();
    f.cleanUpProtect.last().resolve();
    await flush();
    await advance(2 * TIMING.retryDelayMs - 1);
    expect(stateOf(actor)).toBe('awaitingRetry');
    await advance(1);
    expect(stateOf(actor)).toBe('awaitingSecondary');
  });

  it('a failed attempt is retried through to COLO running, which resets the delay', async () => {
    const { actor, f } = await primaryTo('syncing');
    f.syncPeer.last().reject(new Error('a resync job ended before it was ready'));
    await flush();
    f.cleanUpProtect.last().resolve();
    await flush();
    await advance(TIMING.retryDelayMs);
    f.awaitPeerReady.last().resolve(PEER);
    await flush();
    f.syncPeer.last().resolve();
    await flush();
    f.attachReplication.last().resolve();
    await flush();
    f.startMigration.last().resolve();
    await flush();
    f.awaitColo.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('coloRunning');
    expect(actor.getSnapshot().context.failures).toBe(0);
  });

  it('once the failover machine acted it stops retrying and the clean-up never resumes the guest', async () => {
    const { actor, f } = await primaryTo('syncing');
    actor.send({ type: 'STAND_DOWN' });
    f.syncPeer.last().reject(new Error('NBD went away'));
    await flush();
    expect(f.cleanUpProtect.last().input).toEqual({ vm: 'vm1', resume: false });
    f.cleanUpProtect.last().resolve();
    await flush();
    await advance(TIMING.retryDelayMs);
    expect(stateOf(actor)).toBe('superseded');
    expect(reasonOf(actor)).toContain('a restore brings protection back');
    expect(f.awaitPeerReady.calls).toHaveLength(1);
  });

  it('asking the secondary again stops at once when the failover machine acts', async () => {
    const { actor, f } = await primaryTo('awaitingSecondary');
    actor.send({ type: 'STAND_DOWN' });
    await flush();
    expect(stateOf(actor)).toBe('superseded');
    expect(f.awaitPeerReady.last().signal.aborted).toBe(true);
  });
});

describe('retryBackoffMs', () => {
  it('doubles from the base up to five steps', () => {
    expect([1, 2, 3, 4, 5, 6, 50].map((n) => retryBackoffMs(2_000, n))).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 32_000, 32_000]);
    expect(retryBackoffMs(2_000, 0)).toBe(2_000);
  });
});
