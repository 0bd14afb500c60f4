import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { failoverMachine, isStaleEpoch, type FailoverEvent } from '../../../state-machines/failover.js';
import { FAILOVER_PHASE_DEPTH, phaseOf } from '../../../state-machines/status.js';
import {
  STANDBY_RETRY_MS,
  T0,
  advance,
  lockConflict,
  failClaim,
  failoverInput,
  flush,
  natsUnavailable,
  peerLost,
  reasonOf,
  startFailover,
  stateOf,
  tagsOf,
} from './failover-harness.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A started actor brought to runningAlone through the real path. */
async function runningAlone(role: 'primary' | 'secondary') {
  const s = startFailover(role);
  s.send(peerLost());
  s.f.claimLease.last().resolve({ epoch: 4, at: T0 + 10 });
  await flush();
  (role === 'secondary' ? s.f.takeOver : s.f.carryOnAlone).last().resolve({ at: T0 + 20, steps: {} });
  await flush();
  expect(stateOf(s.actor)).toBe('runningAlone');
  return s;
}

describe('failoverMachine: primary', () => {
  it('PEER_LOST -> claiming -> carryingOn -> runningAlone, staying primary', async () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send(peerLost(T0, 'no heartbeat from beta for 3005 ms'));
    expect(stateOf(actor)).toBe('claiming');
    expect(f.claimLease.last().input).toEqual({ vm: 'vm1', force: false });

    f.claimLease.last().resolve({ epoch: 4, at: T0 + 15 });
    await flush();
    expect(stateOf(actor)).toBe('carryingOn');
    expect(tagsOf(actor)).toEqual(['acted', 'failingOver']);
    expect(reasonOf(actor)).toContain('epoch 4');
    expect(f.carryOnAlone.last().input).toEqual({ vm: 'vm1', epoch: 4 });

    f.carryOnAlone.last().resolve({ at: T0 + 60, steps: {} });
    await flush();
    expect(stateOf(actor)).toBe('runningAlone');
    expect(tagsOf(actor)).toEqual(['acted', 'active', 'alone']);
    expect(actor.getSnapshot().context).toMatchObject({ role: 'primary', epoch: 4, detectedAt: T0, leaseWonAt: T0 + 15, takeoverAt: T0 + 60 });
    expect(reasonOf(actor)).toContain('no heartbeat from beta');
    expect(f.takeOver.calls).toHaveLength(0);
  });

  it('reports a carry-on error as failed (tag down)', async () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send(peerLost());
    f.claimLease.last().resolve({ epoch: 4, at: T0 });
    await flush();
    f.carryOnAlone.last().reject(new Error('qemu is not running'));
    await flush();
    expect(stateOf(actor)).toBe('failed');
    expect(tagsOf(actor)).toEqual(['acted', 'down']);
    expect(reasonOf(actor)).toContain('qemu is not running');
  });
});

describe('failoverMachine: lease lost', () => {
  it('fences a primary in watching: fencing -> fenced, fenceVm called', async () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send({ type: 'LEASE_LOST', reason: 'another node took the lease' });
    expect(stateOf(actor)).toBe('fencing');
    expect(tagsOf(actor)).toEqual(['acted', 'fenced']);
    expect(f.fenceVm.calls).toHaveLength(1);
    expect(f.fenceVm.last().input).toEqual({ vm: 'vm1' });
    expect(reasonOf(actor)).toContain('another node took the lease');

    f.fenceVm.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('fenced');
    expect(tagsOf(actor)).toEqual(['acted', 'fenced', 'paused']);
    expect(reasonOf(actor)).toMatch(/another node took the lease.*VM paused/);
    expect(rounds()).toBe(0);
  });

  it('still ends fenced when fenceVm fails, and says the VM is not serving', async () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send({ type: 'LEASE_LOST', reason: 'could not renew the lease before it expired' });
    f.fenceVm.last().reject(new Error('QMP stop got no reply within 200 ms'));
    await flush();
    expect(stateOf(actor)).toBe('fenced');
    expect(reasonOf(actor)).toBe('fencing: QMP stop got no reply within 200 ms; the VM is not serving');
  });

  it('ignores LEASE_LOST for a secondary in watching', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send({ type: 'LEASE_LOST', reason: 'another node took the lease' });
    expect(stateOf(actor)).toBe('watching');
    expect(reasonOf(actor)).toBe('watching the peer');
    await advance(STANDBY_RETRY_MS * 2);
    expect(f.fenceVm.calls).toHaveLength(0);
  });

  it.each(['primary', 'secondary'] as const)('fences from runningAlone (started as %s)', async (role) => {
    const { actor, f, send } = await runningAlone(role);
    send({ type: 'LEASE_LOST', reason: 'another node took the lease' });
    expect(stateOf(actor)).toBe('fencing');
    expect(reasonOf(actor)).toContain('while running alone');
    expect(f.fenceVm.calls).toHaveLength(1);
  });

  it('fences a primary that went passive (NATS trouble) when its lease runs out locally', async () => {
    const { actor, f, send, rounds } = startFailover('primary', 'strict');
    send(peerLost());
    await failClaim(actor, f, natsUnavailable);
    await flush();
    expect(stateOf(actor)).toBe('passive');
    send({ type: 'LEASE_LOST', reason: 'could not renew the lease before it expired' });
    expect(stateOf(actor)).toBe('fencing');
    expect(f.fenceVm.calls).toHaveLength(1);
  });
});

describe('failoverMachine: local failures', () => {
  it.each(['primary', 'secondary'] as const)('LOCAL_QEMU_LOST (%s) -> releasing -> down, releaseLease called', async (role) => {
    const { actor, f, send, rounds } = startFailover(role);
    send({ type: 'LOCAL_QEMU_LOST', reason: 'qemu exited with signal SIGKILL', at: T0 });
    expect(stateOf(actor)).toBe('releasing');
    expect(tagsOf(actor)).toEqual(['acted', 'down']);
    expect(f.releaseLease.last().input).toEqual({ vm: 'vm1' });
    expect(actor.getSnapshot().context).toMatchObject({ trigger: 'qemu exited with signal SIGKILL', detectedAt: T0 });
    expect(reasonOf(actor)).toContain('handing the lease over');

    f.releaseLease.last().resolve();
    await flush();
    expect(stateOf(actor)).toBe('down');
    expect(tagsOf(actor)).toEqual(['acted', 'down', 'stopped']);
    expect(rounds()).toBe(0);
  });

  it('ends down when the release fails, saying the peer waits for expiry', async () => {
    const { actor, f, send, rounds } = startFailover('primary');
    send({ type: 'LOCAL_QEMU_LOST', reason: 'qemu exited with code 1', at: T0 });
    f.releaseLease.last().reject(natsUnavailable());
    await flush();
    expect(stateOf(actor)).toBe('down');
    expect(reasonOf(actor)).toMatch(/qemu exited with code 1.*release failed: NATS is reconnecting; the peer waits for expiry/);
  });

  it('LOCAL_QEMU_LOST in runningAlone -> releasing', async () => {
    const { actor, f, send } = await runningAlone('secondary');
    send({ type: 'LOCAL_QEMU_LOST', reason: 'qemu exited with signal SIGKILL', at: T0 + 1_000 });
    expect(stateOf(actor)).toBe('releasing');
    expect(f.releaseLease.calls).toHaveLength(1);
  });

  it('LOCAL_COLO_FAILED -> claiming, recording the trigger; a secondary then takes over', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send({ type: 'LOCAL_COLO_FAILED', reason: 'COLO_EXIT reason=error', at: T0 + 5 });
    expect(stateOf(actor)).toBe('claiming');
    expect(actor.getSnapshot().context).toMatchObject({ trigger: 'COLO_EXIT reason=error', detectedAt: T0 + 5 });
    expect(reasonOf(actor)).toContain('COLO failed locally');
    f.claimLease.last().resolve({ epoch: 4, at: T0 + 9 });
    await flush();
    expect(stateOf(actor)).toBe('takingOver');
  });

  it('LOCAL_COLO_FAILED while standing by claims again at once', async () => {
    const { actor, f, send, rounds } = startFailover('secondary');
    send(peerLost());
    await failClaim(actor, f, lockConflict);
    await flush();
    expect(stateOf(actor)).toBe('standingBy');
    send({ type: 'LOCAL_COLO_FAILED', reason: 'COLO_EXIT reason=error', at: T0 + 7 });
    expect(stateOf(actor)).toBe('claiming');
    expect(rounds()).toBe(2);
  });
});

describe('failoverMachine: a timer alone never promotes', () => {
  it.each([
    ['primary', 'strict'],
    ['primary', 'relaxed'],
    ['secondary', 'strict'],
    ['secondary', 'relaxed'],
  ] as const)('%s/%s stays watching for ten minutes without events', async (role, policy) => {
    const { actor, f, rounds } = startFailover(role, policy);
    await advance(10 * 60_000);
    expect(stateOf(actor)).toBe('watching');
    expect(tagsOf(actor)).toEqual(['steady', 'watching']);
    expect(rounds()).toBe(0);
    expect(f.takeOver.calls).toHaveLength(0);
    expect(f.carryOnAlone.calls).toHaveLength(0);
  });

  it('PEER_BACK and NATS_UP alone never start a claim', async () => {
    const { actor, f, send, rounds } = startFailover('secondary', 'relaxed');
    send({ type: 'PEER_BACK' });
    send({ type: 'NATS_DOWN' });
    send({ type: 'NATS_UP' });
    await advance(60_000);
    expect(stateOf(actor)).toBe('watching');
    expect(rounds()).toBe(0);
  });
});

describe('failoverMachine: pure transitions from watching (no effects run)', () => {
  const at = T0;
  it.each<[string, 'primary' | 'secondary', FailoverEvent, string]>([
    ['PEER_LOST', 'secondary', { type: 'PEER_LOST', reason: 'x', at }, 'claiming'],
    ['PEER_LOST', 'primary', { type: 'PEER_LOST', reason: 'x', at }, 'claiming'],
    ['LOCAL_COLO_FAILED', 'secondary', { type: 'LOCAL_COLO_FAILED', reason: 'x', at }, 'claiming'],
    ['LOCAL_QEMU_LOST', 'secondary', { type: 'LOCAL_QEMU_LOST', reason: 'x', at }, 'releasing'],
    ['LEASE_LOST', 'primary', { type: 'LEASE_LOST', reason: 'x' }, 'fencing'],
    ['LEASE_LOST', 'secondary', { type: 'LEASE_LOST', reason: 'x' }, 'watching'],
    ['PEER_BACK', 'secondary', { type: 'PEER_BACK' }, 'watching'],
    ['NATS_DOWN', 'secondary', { type: 'NATS_DOWN' }, 'watching'],
  ])('%s for a %s -> %s', (_name, role, event, target) => {
    const [initial] = initialTransition(failoverMachine, failoverInput(role));
    const [next] = transition(failoverMachine, initial, event);
    expect(phaseOf(next.value, FAILOVER_PHASE_DEPTH)).toBe(target);
  });
});

describe('isStaleEpoch', () => {
  it.each([
    [2, 3, true],
    [0, 1, true],
    [3, 3, false],
    [4, 3, false],
    [0, 0, false],
  ])('message epoch %i vs known %i -> stale %s', (message, known, stale) => {
    expect(isStaleEpoch(message, known)).toBe(stale);
  });
});
