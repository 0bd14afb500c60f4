import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LeaseKeeper } from '../../../agent/signals/lease-keeper.js';
import { LockConflictError, NatsUnavailableError } from '../../../shared/errors.js';
import type { Lease, LeaseView } from '../../../shared/lease/index.js';
import { silentLogger } from '../../../shared/log.js';

const RENEW_EVERY_MS = 250;
const CHECK_EVERY_MS = 10;
/** How long a successful renewal keeps the lease locally (ttl - safety). */
const HELD_FOR_MS = 800;

/** A lease whose local deadline moves with each successful renewal; renew() is scripted per test. */
class FakeLease implements Lease {
  epoch = 3;
  renewCalls = 0;
  private deadline = Date.now() + HELD_FOR_MS;
  /** What the next renewals do; default: succeed. */
  next: () => Promise<void> = async () => undefined;

  async renew(): Promise<{ epoch: number }> {
    this.renewCalls++;
    await this.next();
    this.deadline = Date.now() + HELD_FOR_MS;
    return { epoch: this.epoch };
  }
  isHeldLocally(): boolean {
    return Date.now() < this.deadline;
  }
  remainingMs(): number {
    return Math.max(0, this.deadline - Date.now());
  }
  expireNow(): void {
    this.deadline = -Infinity;
  }
  claim(): Promise<{ epoch: number }> {
    throw new Error('not used by LeaseKeeper');
  }
  release(): Promise<void> {
    throw new Error('not used by LeaseKeeper');
  }
  read(): Promise<LeaseView | null> {
    throw new Error('not used by LeaseKeeper');
  }
}

function setup() {
  const lease = new FakeLease();
  const onLost = vi.fn<(reason: string) => void>();
  const keeper = new LeaseKeeper(lease, { renewEveryMs: RENEW_EVERY_MS, checkEveryMs: CHECK_EVERY_MS, log: silentLogger(), onLost });
  return { lease, onLost, keeper };
}

const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);

let s: ReturnType<typeof setup>;

beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
  s = setup();
});
afterEach(() => {
  s.keeper.letGo();
  vi.useRealTimers();
});

describe('LeaseKeeper: renewing', () => {
  it('does nothing until hold()', async () => {
    expect(s.keeper.isHolding).toBe(false);
    await advance(RENEW_EVERY_MS * 4);
    expect(s.lease.renewCalls).toBe(0);
    s.lease.expireNow();
    await advance(CHECK_EVERY_MS * 3);
    expect(s.onLost).not.toHaveBeenCalled();
  });

  it('renews every renewEveryMs while holding, and the lease stays held', async () => {
    s.keeper.hold();
    expect(s.keeper.isHolding).toBe(true);
    await advance(RENEW_EVERY_MS - 1);
    expect(s.lease.renewCalls).toBe(0);
    await advance(1);
    expect(s.lease.renewCalls).toBe(1);
    await advance(RENEW_EVERY_MS * 40);
    expect(s.lease.renewCalls).toBe(41);
    expect(s.onLost).not.toHaveBeenCalled();
    expect(s.keeper.isHolding).toBe(true);
  });

  it('hold() twice does not double the renewals', async () => {
    s.keeper.hold();
    s.keeper.hold();
    await advance(RENEW_EVERY_MS * 4);
    expect(s.lease.renewCalls).toBe(4);
  });

  it('never overlaps renewals: a slow one is not joined by the next tick', async () => {
    let finish: () => void = () => undefined;
    s.lease.next = () => new Promise<void>((resolve) => (finish = resolve));
    s.keeper.hold();
    await advance(RENEW_EVERY_MS * 3);
    expect(s.lease.renewCalls).toBe(1);
    s.lease.next = async () => undefined;
    finish();
    await advance(RENEW_EVERY_MS);
    expect(s.lease.renewCalls).toBe(2);
  });
});

describe('LeaseKeeper: losing the lease', () => {
  it('reports a LockConflictError on renew once, as "another node took the lease", and stops', async () => {
    s.lease.next = async () => {
      throw new LockConflictError('vm1.lease');
    };
    s.keeper.hold();
    await advance(RENEW_EVERY_MS);
    expect(s.onLost).toHaveBeenCalledTimes(1);
    expect(s.onLost).toHaveBeenCalledWith('another node took the lease');
    expect(s.keeper.isHolding).toBe(false);

    s.lease.expireNow();
    await advance(RENEW_EVERY_MS * 10);
    expect(s.lease.renewCalls).toBe(1);
    expect(s.onLost).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['NatsUnavailableError', () => new NatsUnavailableError('NATS is reconnecting')],
    ['a plain Error', () => new Error('timeout')],
  ])('retries after %s and reports expiry once the local deadline passes', async (_name, error) => {
    s.lease.next = async () => {
      throw error();
    };
    s.keeper.hold();
    await advance(RENEW_EVERY_MS * 3);
    expect(s.lease.renewCalls).toBe(3);
    expect(s.onLost).not.toHaveBeenCalled();
    expect(s.keeper.isHolding).toBe(true);

    // the deadline is HELD_FOR_MS after the start (no renewal succeeded): loss within one check after it
    await advance(HELD_FOR_MS - RENEW_EVERY_MS * 3 - 1);
    expect(s.onLost).not.toHaveBeenCalled();
    await advance(CHECK_EVERY_MS + 1);
    expect(s.onLost).toHaveBeenCalledTimes(1);
    expect(s.onLost.mock.calls[0]![0]).toMatch(/expired/);
    expect(s.keeper.isHolding).toBe(false);

    const calls = s.lease.renewCalls;
    await advance(RENEW_EVERY_MS * 10);
    expect(s.lease.renewCalls).toBe(calls);
    expect(s.onLost).toHaveBeenCalledTimes(1);
  });

  it('a failed renewal followed by a good one keeps the lease', async () => {
    let failures = 2;
    s.lease.next = async () => {
      if (failures-- > 0) throw new NatsUnavailableError('NATS is reconnecting');
    };
    s.keeper.hold();
    await advance(RENEW_EVERY_MS * 20);
    expect(s.onLost).not.toHaveBeenCalled();
    expect(s.lease.isHeldLocally()).toBe(true);
  });

  it('can hold again after a loss', async () => {
    s.lease.next = async () => {
      throw new LockConflictError('vm1.lease');
    };
    s.keeper.hold();
    await advance(RENEW_EVERY_MS);
    expect(s.onLost).toHaveBeenCalledTimes(1);
    s.lease.next = async () => undefined;
    s.keeper.hold();
    expect(s.keeper.isHolding).toBe(true);
    await advance(RENEW_EVERY_MS * 2);
    expect(s.lease.renewCalls).toBe(3);
  });
});

describe('LeaseKeeper: mute and letGo', () => {
  it('mute stops renewing, so the local deadline passes and the loss is reported', async () => {
    s.keeper.hold();
    await advance(RENEW_EVERY_MS);
    expect(s.lease.renewCalls).toBe(1);
    s.keeper.mute(true);
    await advance(HELD_FOR_MS - CHECK_EVERY_MS);
    expect(s.lease.renewCalls).toBe(1);
    expect(s.onLost).not.toHaveBeenCalled();
    await advance(CHECK_EVERY_MS * 2);
    expect(s.onLost).toHaveBeenCalledTimes(1);
    expect(s.onLost.mock.calls[0]![0]).toMatch(/expired/);
  });

  it('unmuting before the deadline resumes renewals and keeps the lease', async () => {
    s.keeper.hold();
    s.keeper.mute(true);
    await advance(HELD_FOR_MS / 2);
    expect(s.lease.renewCalls).toBe(0);
    s.keeper.mute(false);
    await advance(HELD_FOR_MS * 5);
    expect(s.lease.renewCalls).toBeGreaterThan(0);
    expect(s.onLost).not.toHaveBeenCalled();
  });

  it('letGo stops everything: no renewals and no loss reported, even after expiry', async () => {
    s.keeper.hold();
    await advance(RENEW_EVERY_MS);
    s.keeper.letGo();
    expect(s.keeper.isHolding).toBe(false);
    s.lease.expireNow();
    await advance(RENEW_EVERY_MS * 10);
    expect(s.lease.renewCalls).toBe(1);
    expect(s.onLost).not.toHaveBeenCalled();
  });

  it('a conflict from a renewal in flight when letGo is called is not reported', async () => {
    let fail: (e: unknown) => void = () => undefined;
    s.lease.next = () => new Promise<void>((_resolve, reject) => (fail = reject));
    s.keeper.hold();
    await advance(RENEW_EVERY_MS);
    expect(s.lease.renewCalls).toBe(1);
    s.keeper.letGo();
    fail(new LockConflictError('vm1.lease'));
    await advance(RENEW_EVERY_MS);
    expect(s.onLost).not.toHaveBeenCalled();
  });
});

describe('LeaseKeeper: a NATS outage while COLO checkpoints keep completing', () => {
  function withCheckpoints(flowing: { value: boolean }) {
    const lease = new FakeLease();
    const onLost = vi.fn<(reason: string) => void>();
    const onUnconfirmed = vi.fn<(u: boolean) => void>();
    const keeper = new LeaseKeeper(lease, { renewEveryMs: RENEW_EVERY_MS, checkEveryMs: CHECK_EVERY_MS, log: silentLogger(), onLost, checkpointsFlowing: () => flowing.value, onUnconfirmed });
    return { lease, onLost, onUnconfirmed, keeper };
  }

  it('does not report the lease lost while checkpoints flow; renews at the same epoch once NATS answers', async () => {
    const flowing = { value: true };
    const k = withCheckpoints(flowing);
    k.keeper.hold();
    k.lease.next = async () => {
      throw new NatsUnavailableError('NATS is down');
    };
    await advance(HELD_FOR_MS + 5 * RENEW_EVERY_MS);
    expect(k.onLost).not.toHaveBeenCalled();
    expect(k.keeper.unconfirmed).toBe(true);
    expect(k.onUnconfirmed).toHaveBeenCalledWith(true);
    expect(k.onUnconfirmed).toHaveBeenCalledTimes(1);
    k.lease.next = async () => undefined;
    await advance(RENEW_EVERY_MS + CHECK_EVERY_MS);
    expect(k.keeper.unconfirmed).toBe(false);
    expect(k.onUnconfirmed).toHaveBeenLastCalledWith(false);
    expect(k.lease.isHeldLocally()).toBe(true);
    expect(k.onLost).not.toHaveBeenCalled();
  });

  it('reports it lost at the first check after checkpoints stop while the lease is unconfirmed', async () => {
    const flowing = { value: true };
    const k = withCheckpoints(flowing);
    k.keeper.hold();
    k.lease.next = async () => {
      throw new NatsUnavailableError('NATS is down');
    };
    await advance(HELD_FOR_MS + RENEW_EVERY_MS);
    expect(k.onLost).not.toHaveBeenCalled();
    flowing.value = false;
    await advance(CHECK_EVERY_MS);
    expect(k.onLost).toHaveBeenCalledWith('could not confirm the lease and checkpoints stopped');
    expect(k.keeper.isHolding).toBe(false);
  });

  it('a conflict is a loss at once even while checkpoints flow (another node wrote the lease)', async () => {
    const k = withCheckpoints({ value: true });
    k.keeper.hold();
    k.lease.next = async () => {
      throw new LockConflictError('vm1.lease');
    };
    await advance(RENEW_EVERY_MS);
    expect(k.onLost).toHaveBeenCalledWith('another node took the lease');
  });

  it('without checkpoints (running alone) an expired deadline is a loss, as before', async () => {
    const k = withCheckpoints({ value: false });
    k.keeper.hold();
    k.lease.next = async () => {
      throw new NatsUnavailableError('NATS is down');
    };
    await advance(HELD_FOR_MS + CHECK_EVERY_MS);
    expect(k.onLost).toHaveBeenCalledWith('could not renew the lease before it expired');
  });
});
