import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { advance, failoverOf, flush, PEER, PROGRESS, protectOf, restoreOf, roleOf, startVm, type VmActor } from './vm-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

type Started = ReturnType<typeof startVm>;

async function secondaryInColo(): Promise<Started> {
  const s = startVm();
  s.f.reconcile.last().resolve({ role: 'secondary', start: { kind: 'fresh' } });
  await flush();
  s.f.protect.prepareDisks.last().resolve();
  await flush();
  s.f.protect.launchQemu.last().resolve({ pid: 7 });
  await flush();
  s.f.protect.exportDisks.last().resolve();
  await flush();
  s.f.protect.awaitColo.last().resolve();
  await flush();
  return s;
}

async function tookOver(): Promise<Started> {
  const s = await secondaryInColo();
  s.actor.send({ type: 'PEER_LOST', reason: 'no heartbeat', at: 1, coloAlive: false });
  await flush();
  s.f.failover.claimLease.last().resolve({ epoch: 4, at: 2 });
  await flush();
  s.f.failover.takeOver.last().resolve({ at: 3, steps: {} });
  await flush();
  return s;
}

async function primaryWatching(): Promise<Started> {
  const s = startVm({ node: 'alpha', peer: 'beta' });
  s.f.reconcile.last().resolve({ role: 'primary', start: { kind: 'resume', reason: 'adopted' } });
  await flush();
  return s;
}

const rejoin = (a: VmActor, epoch: number, knownEpoch = 3, qemuRunning = true) =>
  a.send({ type: 'REJOIN_REQUESTED', epoch, knownEpoch, qemuRunning, disks: [{ index: 0, sizeBytes: 1 << 20 }] });

describe('vm machine: start', () => {
  it('reconciles first, then runs protect and failover in the role reconciliation found', async () => {
    const { actor, f } = startVm();
    expect(actor.getSnapshot().value).toBe('reconciling');
    expect(protectOf(actor)).toBeUndefined();
    f.reconcile.last().resolve({ role: 'primary', start: { kind: 'fresh' } });
    await flush();
    expect(roleOf(actor)).toBe('primary');
    expect(protectOf(actor)?.value).toBe('launching');
    expect(failoverOf(actor)?.context.role).toBe('primary');
    expect(restoreOf(actor)).toBeUndefined();
  });

  it('a reconciliation that fails leaves the VM broken, with the reason', async () => {
    const { actor, f } = startVm();
    f.reconcile.last().reject(new Error('qemu-img missing'));
    await flush();
    expect(actor.getSnapshot().hasTag('broken')).toBe(true);
    expect(actor.getSnapshot().context.reason).toBe('cannot start this VM: qemu-img missing');
  });

  it('an adopted primary holds the lease again; failing that, its failover child fences', async () => {
    const { actor, f } = startVm({ node: 'alpha', peer: 'beta' });
    f.reconcile.last().resolve({ role: 'primary', start: { kind: 'resume', reason: 'adopted', reclaimLease: true } });
    await flush();
    expect(protectOf(actor)?.value).toBe('coloRunning');
    f.reclaimLease.last().reject(new Error('the lease is held by beta'));
    await flush();
    expect(failoverOf(actor)?.value).toBe('fencing');
    expect(failoverOf(actor)?.context.reason).toContain('cannot hold the lease after adoption: the lease is held by beta');
  });
});

describe('vm machine: role swaps', () => {
  it('COLO running makes the secondary promotable', async () => {
    const { actor } = await secondaryInColo();
    expect(protectOf(actor)?.value).toBe('coloRunning');
    expect(failoverOf(actor)?.context.promotable).toBe(true);
  });

  it('a secondary that took over is the primary; its half-done protection stands down', async () => {
    const { actor } = await tookOver();
    expect(failoverOf(actor)?.value).toBe('runningAlone');
    expect(roleOf(actor)).toBe('primary');
    expect(protectOf(actor)?.context.standDown).toBe(true);
  });

  it('a silent peer with live checkpoints is no reason to take over', async () => {
    const { actor, f } = await secondaryInColo();
    actor.send({ type: 'PEER_LOST', reason: 'no heartbeat', at: 1, coloAlive: true });
    await flush();
    expect(failoverOf(actor)?.value).toBe('watching');
    expect(f.failover.claimLease.calls).toHaveLength(0);
    expect(roleOf(actor)).toBe('secondary');
  });

  it('restored: the survivor is the protected primary again, failover watches, a new protect child watches COLO', async () => {
    const { actor, f } = await tookOver();
    const oldProtect = protectOf(actor);
    actor.send({ type: 'AUTO_RESTORE_CHECK', peerAgentAlive: true, leaseHeld: true });
    await flush();
    expect(restoreOf(actor)?.value).toBe('preparingPeer');
    f.restore.requestRejoin.last().resolve();
    await flush();
    f.restore.awaitPeerReady.last().resolve(PEER);
    await flush();
    actor.send({ type: 'RESYNC_PROGRESS', progress: PROGRESS });
    expect(restoreOf(actor)?.context.progress).toEqual(PROGRESS);
    f.restore.resync.last().resolve();
    await flush();
    f.restore.switchOver.last().resolve({ pauseMs: 12 });
    await flush();
    f.restore.migrateIntoColo.last().resolve();
    await flush();
    expect(actor.getSnapshot().matches({ running: { restore: 'idle' } })).toBe(true);
    expect(roleOf(actor)).toBe('primary');
    expect(failoverOf(actor)?.value).toBe('watching');
    expect(failoverOf(actor)?.context.role).toBe('primary');
    const fresh = protectOf(actor);
    expect(fresh).not.toBe(oldProtect);
    expect(fresh?.value).toBe('coloRunning');
    expect(fresh?.context.role).toBe('primary');
  });

  it('rejoin accepted on a fenced node: the old children stop, a fresh secondary starts after the old qemu is gone', async () => {
    const { actor, f } = await primaryWatching();
    actor.send({ type: 'LEASE_LOST', reason: 'lease taken' });
    await flush();
    f.failover.fenceVm.last().resolve();
    await flush();
    expect(failoverOf(actor)?.value).toBe('fenced');
    rejoin(actor, 5);
    await flush();
    expect(actor.getSnapshot().value).toBe('rejoining');
    expect(protectOf(actor)).toBeUndefined();
    f.resetForRejoin.last().resolve();
    await flush();
    expect(roleOf(actor)).toBe('secondary');
    expect(actor.getSnapshot().context.rejoinSizes).toEqual([{ index: 0, sizeBytes: 1 << 20 }]);
    expect(protectOf(actor)?.value).toBe('preparingDisks');
    expect(failoverOf(actor)?.value).toBe('watching');
    expect(failoverOf(actor)?.context.role).toBe('secondary');
  });
});

describe('vm machine: refusals', () => {
  it('refuses to rejoin while serving as primary, or on a stale epoch', async () => {
    const { actor, f } = await primaryWatching();
    rejoin(actor, 5);
    expect(actor.getSnapshot().context.refusal).toBe('this node still runs vm1 as primary (failover watching)');
    actor.send({ type: 'LEASE_LOST', reason: 'lease taken' });
    await flush();
    f.failover.fenceVm.last().resolve();
    await flush();
    rejoin(actor, 2, 3);
    expect(actor.getSnapshot().context.refusal).toBe('stale request: epoch 2 < 3');
    expect(f.resetForRejoin.calls).toHaveLength(0);
  });

  it('refuses a restore when not running alone, and does not restore on its own without the lost agent', async () => {
    const { actor } = await secondaryInColo();
    actor.send({ type: 'RESTORE_REQUESTED', at: 1 });
    expect(actor.getSnapshot().context.refusal).toBe('not running alone here (failover watching)');
    const alone = await tookOver();
    alone.actor.send({ type: 'AUTO_RESTORE_CHECK', peerAgentAlive: false, leaseHeld: true });
    alone.actor.send({ type: 'AUTO_RESTORE_CHECK', peerAgentAlive: true, leaseHeld: false });
    expect(restoreOf(alone.actor)).toBeUndefined();
  });

  it('auto-restore is off when the config says so; an operator restore still works', async () => {
    const s = startVm({ autoRestore: false });
    s.f.reconcile.last().resolve({ role: 'secondary', start: { kind: 'fresh' } });
    await flush();
    s.actor.send({ type: 'PEER_LOST', reason: 'x', at: 1, coloAlive: false });
    await flush();
    // Not yet promotable (COLO never ran): no takeover, no restore.
    expect(failoverOf(s.actor)?.value).toBe('notPromotable');
    const t = await tookOver();
    t.actor.send({ type: 'AUTO_RESTORE_CHECK', peerAgentAlive: true, leaseHeld: true });
    expect(restoreOf(t.actor)).toBeDefined();
  });

  it('a lease lost while restoring aborts the restore', async () => {
    const { actor, f } = await tookOver();
    actor.send({ type: 'RESTORE_REQUESTED', at: 1, to: 'alpha' });
    await flush();
    expect(restoreOf(actor)?.value).toBe('preparingPeer');
    actor.send({ type: 'LEASE_LOST', reason: 'lease taken' });
    await flush();
    expect(failoverOf(actor)?.value).toBe('fencing');
    expect(actor.getSnapshot().matches({ running: { restore: 'idle' } })).toBe(true);
    expect(f.restore.requestRejoin.last().signal.aborted).toBe(true);
    await advance(10_000);
    expect(roleOf(actor)).toBe('primary');
  });
});
