import { describe, expect, it } from 'vitest';
import { readyAsSecondary, rejoinRefusal, restoreRefusal, servesVm, shouldAutoRestore, wrongRestoreTarget, type FailoverView } from '../../../state-machines/vm-decisions.js';

const fo = (value: string, ...tags: string[]): FailoverView => ({ value, hasTag: (t) => tags.includes(t) });
const WATCHING = fo('watching', 'watching');
const ALONE = fo('runningAlone', 'active', 'alone', 'acted');
const FENCED = fo('fenced', 'fenced', 'acted');

describe('servesVm', () => {
  it.each([
    [true, 'primary', WATCHING, true],
    [true, 'secondary', WATCHING, false],
    [true, 'secondary', ALONE, true],
    [true, 'primary', FENCED, false],
    [false, 'primary', WATCHING, false],
    [false, 'secondary', ALONE, false],
  ] as const)('qemu running %s, role %s, failover %o -> %s', (qemuRunning, role, failover, serves) => {
    expect(servesVm({ qemuRunning, role, failover })).toBe(serves);
  });
});

describe('rejoinRefusal', () => {
  const base = { vm: 'vm1', qemuRunning: true, role: 'primary' as const, failover: WATCHING, knownEpoch: 3, requestEpoch: 3 };
  it('refuses while this node serves the VM, naming its role and failover phase', () => {
    expect(rejoinRefusal(base)).toBe('this node still runs vm1 as primary (failover watching)');
    expect(rejoinRefusal({ ...base, role: 'secondary', failover: ALONE })).toBe('this node still runs vm1 as secondary (failover runningAlone)');
  });
  it('refuses a request older than the epoch this node knows', () => {
    expect(rejoinRefusal({ ...base, failover: FENCED, requestEpoch: 2 })).toBe('stale request: epoch 2 < 3');
  });
  it('accepts a fenced or lost node, and a secondary whose qemu is gone', () => {
    expect(rejoinRefusal({ ...base, failover: FENCED, requestEpoch: 4 })).toBeNull();
    expect(rejoinRefusal({ ...base, qemuRunning: false })).toBeNull();
    expect(rejoinRefusal({ ...base, role: 'secondary' })).toBeNull();
  });
});

describe('restore requests', () => {
  it('names a target that is not the peer before anything else', () => {
    expect(wrongRestoreTarget('beta', 'gamma')).toBe("gamma is not this pair's other node (beta)");
    expect(wrongRestoreTarget('beta', undefined)).toBeNull();
    expect(restoreRefusal({ peer: 'beta', to: 'gamma', failover: ALONE })).toMatch(/gamma is not/);
  });
  it('restores only when running alone', () => {
    expect(restoreRefusal({ peer: 'beta', to: 'beta', failover: ALONE })).toBeNull();
    expect(restoreRefusal({ peer: 'beta', failover: WATCHING })).toBe('not running alone here (failover watching)');
  });
});

describe('shouldAutoRestore', () => {
  const ok = { auto: true, restoreRunning: false, failover: ALONE, peerAgentAlive: true, leaseHeld: true };
  it('starts when every condition holds', () => expect(shouldAutoRestore(ok)).toBe(true));
  it.each([
    ['auto off', { auto: false }],
    ['a restore already runs', { restoreRunning: true }],
    ['not alone', { failover: WATCHING }],
    ['the lost agent is not back', { peerAgentAlive: false }],
    ['the lease is not held here', { leaseHeld: false }],
  ])('not when %s', (_, change) => expect(shouldAutoRestore({ ...ok, ...change })).toBe(false));
});

describe('readyAsSecondary', () => {
  it('is ready only as a watching secondary whose machine is ready', () => {
    expect(readyAsSecondary({ role: 'secondary', protectReady: true, failover: WATCHING })).toBe(true);
    expect(readyAsSecondary({ role: 'primary', protectReady: true, failover: WATCHING })).toBe(false);
    expect(readyAsSecondary({ role: 'secondary', protectReady: false, failover: WATCHING })).toBe(false);
    expect(readyAsSecondary({ role: 'secondary', protectReady: true, failover: fo('claiming', 'failingOver') })).toBe(false);
  });
});
