import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { z } from 'zod';
import { HeartbeatMonitor, type HeartbeatOptions } from '../../../agent/signals/heartbeat.js';
import { silentLogger } from '../../../shared/log.js';
import { heartbeatSchema, subjects, type Bus, type ConnectionState, type Heartbeat, type Role, type Unsubscribe } from '../../../shared/nats/index.js';

const PAIR = 'p1';
const VM = 'vm1';
const ME = 'beta';
const PEER = 'alpha';
const INTERVAL_MS = 100;
const TIMEOUT_MS = 300;
/** The monitor checks every intervalMs / 4. */
const CHECK_MS = INTERVAL_MS / 4;
const T0 = 1_700_000_000_000;

/** Just what HeartbeatMonitor uses of a Bus: subscribe (with the schema check), publish, state and its changes. */
class FakeBus implements Bus {
  state: ConnectionState = 'connected';
  readonly published: { subject: string; message: unknown }[] = [];
  private readonly subs = new Map<string, Set<(raw: unknown) => void>>();
  private readonly listeners = new Set<(s: ConnectionState) => void>();

  subscribe<T>(subject: string, schema: z.ZodType<T>, onMessage: (message: T, subject: string) => void): Unsubscribe {
    const handler = (raw: unknown) => {
      const parsed = schema.safeParse(raw);
      if (parsed.success) onMessage(parsed.data, subject);
    };
    const set = this.subs.get(subject) ?? new Set();
    set.add(handler);
    this.subs.set(subject, set);
    return () => void set.delete(handler);
  }

  publish(subject: string, message: unknown): void {
    this.published.push({ subject, message });
  }

  onStateChange(listener: (state: ConnectionState) => void): Unsubscribe {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Test side: what the server would deliver on a subject. */
  deliver(subject: string, message: unknown): void {
    for (const h of this.subs.get(subject) ?? []) h(message);
  }

  setState(state: ConnectionState): void {
    this.state = state;
    for (const l of this.listeners) l(state);
  }

  subscriberCount(subject: string): number {
    return this.subs.get(subject)?.size ?? 0;
  }

  request(): Promise<never> {
    throw new Error('not used by HeartbeatMonitor');
  }
  serve(): Unsubscribe {
    throw new Error('not used by HeartbeatMonitor');
  }
  kv(): Promise<never> {
    throw new Error('not used by HeartbeatMonitor');
  }
  async close(): Promise<void> {}
}

function setup(over: Partial<HeartbeatOptions> = {}) {
  const bus = new FakeBus();
  let mono = 50_000; // deliberately unrelated to the wall clock
  const self = { role: 'secondary' as Role, epoch: 3, qemuOk: true };
  let known = 3;
  const onPeerLost = vi.fn<(reason: string, at: number) => void>();
  const onPeerBack = vi.fn<() => void>();
  const onEpochSeen = vi.fn<(epoch: number) => void>();
  const monitor = new HeartbeatMonitor({
    bus,
    pair: PAIR,
    vm: VM,
    node: ME,
    peer: PEER,
    intervalMs: INTERVAL_MS,
    timeoutMs: TIMEOUT_MS,
    log: silentLogger(),
    self: () => ({ ...self }),
    knownEpoch: () => known,
    onEpochSeen,
    onPeerLost,
    onPeerBack,
    monotonic: () => mono,
    ...over,
  });
  let seq = 0;
  const peerBeat = (extra: Partial<Heartbeat> = {}) =>
    bus.deliver(subjects.heartbeat(PAIR, VM, PEER), { vm: VM, node: PEER, role: 'primary', epoch: known, seq: ++seq, sentAt: Date.now(), qemuOk: true, ...extra });
  /** Move the monotonic clock and the fake timers together, 1 ms at a time. */
  const advance = (ms: number) => {
    for (let i = 0; i < ms; i++) {
      mono += 1;
      vi.advanceTimersByTime(1);
    }
  };
  /** Advance while the peer beats every intervalMs. */
  const advanceWithBeats = (ms: number) => {
    for (let t = 0; t < ms; t += INTERVAL_MS) {
      advance(INTERVAL_MS);
      peerBeat();
    }
  };
  const myBeats = () => bus.published.filter((p) => p.subject === subjects.heartbeat(PAIR, VM, ME)).map((p) => p.message as Heartbeat);
  return {
    bus,
    monitor,
    self,
    onPeerLost,
    onPeerBack,
    onEpochSeen,
    peerBeat,
    advance,
    advanceWithBeats,
    myBeats,
    setKnownEpoch: (e: number) => void (known = e),
    /** This process stands still for `ms`: the clock moves, no timer fires. */
    stall: (ms: number) => void (mono += ms),
  };
}

let h: ReturnType<typeof setup>;

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  h?.monitor.stop();
  vi.useRealTimers();
});

describe('HeartbeatMonitor: beating', () => {
  it('beats at once on start and then every intervalMs with the self() fields', () => {
    h = setup();
    h.monitor.start();
    expect(h.myBeats()).toHaveLength(1);
    expect(h.myBeats()[0]).toEqual({ vm: VM, node: ME, role: 'secondary', epoch: 3, seq: 1, sentAt: T0, qemuOk: true });

    h.advance(INTERVAL_MS - 1);
    expect(h.myBeats()).toHaveLength(1);
    h.advance(1);
    expect(h.myBeats()).toHaveLength(2);

    h.self.role = 'primary';
    h.self.epoch = 4;
    h.self.qemuOk = false;
    h.advance(INTERVAL_MS * 3);
    const beats = h.myBeats();
    expect(beats).toHaveLength(5);
    expect(beats.map((b) => b.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(beats.at(-1)).toEqual({ vm: VM, node: ME, role: 'primary', epoch: 4, seq: 5, sentAt: T0 + 4 * INTERVAL_MS, qemuOk: false });
    for (const b of beats) expect(heartbeatSchema.parse(b)).toEqual(b);
    // only our own subject is used for beats
    expect(h.bus.published.every((p) => p.subject === 'colo.p1.vm1.hb.beta')).toBe(true);
  });

  it('beat() says something now, between intervals', () => {
    h = setup();
    h.monitor.start();
    h.advance(10);
    h.monitor.beat();
    expect(h.myBeats()).toHaveLength(2);
  });

  it('listens on the peer subject only, and stop() unsubscribes and stops the timers', () => {
    h = setup();
    h.monitor.start();
    expect(h.bus.subscriberCount('colo.p1.vm1.hb.alpha')).toBe(1);
    h.monitor.stop();
    expect(h.bus.subscriberCount('colo.p1.vm1.hb.alpha')).toBe(0);
    const before = h.myBeats().length;
    h.advance(INTERVAL_MS * 5);
    expect(h.myBeats()).toHaveLength(before);
  });
});

describe('HeartbeatMonitor: judging the peer', () => {
  it('calls onPeerBack when the first beat arrives, once', () => {
    h = setup();
    h.monitor.start();
    expect(h.monitor.isPeerAlive).toBe(false);
    h.peerBeat();
    expect(h.onPeerBack).toHaveBeenCalledTimes(1);
    expect(h.monitor.isPeerAlive).toBe(true);
    h.advanceWithBeats(1_000);
    expect(h.onPeerBack).toHaveBeenCalledTimes(1);
    expect(h.monitor.lastPeerBeat).toMatchObject({ node: PEER, vm: VM });
  });

  it('stays alive while the peer beats, for a long time', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    h.advanceWithBeats(10_000);
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(true);
    expect(h.monitor.peerAgeMs()).toBe(0);
  });

  it('declares the peer lost once, naming it, after more than timeoutMs without a beat', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    h.advance(TIMEOUT_MS);
    expect(h.onPeerLost).not.toHaveBeenCalled();
    h.advance(CHECK_MS);
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    const [reason, at] = h.onPeerLost.mock.calls[0]!;
    expect(reason).toMatch(/^no heartbeat from alpha for \d+ ms$/);
    expect(Number(/for (\d+) ms/.exec(reason)![1])).toBeGreaterThan(TIMEOUT_MS);
    // Declared when the silence passed timeoutMs (a deadline, not the next poll): within 2 ms of it.
    expect(at - T0).toBeGreaterThan(TIMEOUT_MS);
    expect(at - T0).toBeLessThanOrEqual(TIMEOUT_MS + 2);
    expect(h.monitor.isPeerAlive).toBe(false);

    h.advance(TIMEOUT_MS * 10);
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);

    // and it comes back with the next beat
    h.peerBeat();
    expect(h.onPeerBack).toHaveBeenCalledTimes(2);
  });

  it('never declares a peer lost that was never seen', () => {
    h = setup();
    h.monitor.start();
    h.advance(TIMEOUT_MS * 10);
    expect(h.onPeerLost).not.toHaveBeenCalled();
  });

  it('declares the peer lost at once when an alive peer says its qemu is gone', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    h.advance(5);
    h.peerBeat({ qemuOk: false });
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    expect(h.onPeerLost.mock.calls[0]![0]).toBe('peer alpha reports its qemu is gone');
    expect(h.monitor.isPeerAlive).toBe(false);
    // repeated bad beats do not repeat the loss, nor revive the peer
    h.peerBeat({ qemuOk: false });
    h.advance(TIMEOUT_MS * 2);
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    expect(h.onPeerBack).toHaveBeenCalledTimes(1);
  });

  it('ignores a qemuOk:false beat from a peer that is not alive', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat({ qemuOk: false });
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.onPeerBack).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(false);
  });

  it('ignores beats for another VM or from another node', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat({ vm: 'vm2' });
    h.peerBeat({ node: 'gamma' });
    expect(h.onPeerBack).not.toHaveBeenCalled();
    expect(h.monitor.lastPeerBeat).toBeNull();
  });

  it('says so at a bounded rate: a thousand beats naming another VM are a handful of warn lines, and none is believed', () => {
    const warned: unknown[] = [];
    const log = { ...silentLogger(), warn: (...args: unknown[]) => void warned.push(args), debug: () => undefined };
    h = setup({ log: log as never });
    h.monitor.start();
    h.peerBeat();
    for (let i = 0; i < 1_000; i++) h.peerBeat({ vm: 'vm2', qemuOk: false });
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(true);
    expect(warned.length).toBeGreaterThan(0);
    expect(warned.length).toBeLessThanOrEqual(5);
  });

  it('counts silence on the monotonic clock: a wall-clock jump is not silence', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    vi.setSystemTime(T0 + 3_600_000);
    h.advance(CHECK_MS * 2);
    expect(h.onPeerLost).not.toHaveBeenCalled();
  });
});

describe('HeartbeatMonitor: stale epochs', () => {
  it('drops a beat with an epoch older than knownEpoch(): it does not revive the peer', () => {
    h = setup();
    h.setKnownEpoch(5);
    h.monitor.start();
    h.peerBeat({ epoch: 4 });
    expect(h.onPeerBack).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(false);
    expect(h.monitor.lastPeerBeat).toBeNull();
    h.peerBeat({ epoch: 5 });
    expect(h.onPeerBack).toHaveBeenCalledTimes(1);
  });

  it('reports the epoch of every fresh beat through onEpochSeen, never a stale one', () => {
    h = setup();
    h.setKnownEpoch(5);
    h.monitor.start();
    h.peerBeat({ epoch: 4 });
    expect(h.onEpochSeen).not.toHaveBeenCalled();
    h.peerBeat({ epoch: 5 });
    h.peerBeat({ epoch: 7, qemuOk: false });
    expect(h.onEpochSeen.mock.calls).toEqual([[5], [7]]);
  });

  it('a stale beat does not refresh the peer: loss still comes on time', () => {
    h = setup();
    h.setKnownEpoch(5);
    h.monitor.start();
    h.peerBeat({ epoch: 5 });
    for (let t = 0; t < TIMEOUT_MS + CHECK_MS; t += INTERVAL_MS / 2) {
      h.advance(INTERVAL_MS / 2);
      h.peerBeat({ epoch: 4 });
    }
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    expect(h.monitor.lastPeerBeat?.epoch).toBe(5);
  });

  it('a stale qemuOk:false beat does not declare loss', () => {
    h = setup();
    h.setKnownEpoch(5);
    h.monitor.start();
    h.peerBeat({ epoch: 5 });
    h.peerBeat({ epoch: 2, qemuOk: false });
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(true);
  });
});

describe('HeartbeatMonitor: NATS outage is not a dead peer', () => {
  it.each(['reconnecting', 'disconnected'] as const)('declares nothing while the bus is %s, then gives a fresh grace period', (state) => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    h.advance(INTERVAL_MS);
    h.bus.setState(state);
    const beatsBefore = h.myBeats().length;
    h.advance(TIMEOUT_MS * 20);
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.myBeats()).toHaveLength(beatsBefore); // nothing is published while disconnected
    expect(h.monitor.isPeerAlive).toBe(true);

    h.bus.setState('connected');
    h.advance(TIMEOUT_MS);
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.myBeats().length).toBeGreaterThan(beatsBefore);
    h.advance(CHECK_MS);
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    expect(h.onPeerLost.mock.calls[0]![0]).toContain('alpha');
  });

  it('a beat after reconnect keeps the peer alive', () => {
    h = setup();
    h.monitor.start();
    h.peerBeat();
    h.bus.setState('reconnecting');
    h.advance(TIMEOUT_MS * 5);
    h.bus.setState('connected');
    h.advanceWithBeats(TIMEOUT_MS * 5);
    expect(h.onPeerLost).not.toHaveBeenCalled();
  });
});

describe('HeartbeatMonitor: mute (drill partition)', () => {
  it('stops publishing while muted and resumes after', () => {
    h = setup();
    h.monitor.start();
    h.monitor.mute(true);
    const before = h.myBeats().length;
    h.advance(INTERVAL_MS * 5);
    h.monitor.beat();
    expect(h.myBeats()).toHaveLength(before);
    h.monitor.mute(false);
    h.advance(INTERVAL_MS);
    expect(h.myBeats()).toHaveLength(before + 1);
  });

  it('ignores incoming beats while muted and declares nothing', () => {
    h = setup();
    h.monitor.start();
    h.monitor.mute(true);
    h.peerBeat();
    expect(h.onPeerBack).not.toHaveBeenCalled();
    expect(h.monitor.lastPeerBeat).toBeNull();
    expect(h.onEpochSeen).not.toHaveBeenCalled();
    h.monitor.mute(false);
    h.peerBeat();
    expect(h.onPeerBack).toHaveBeenCalledTimes(1);

    h.monitor.mute(true);
    h.peerBeat({ qemuOk: false });
    h.advance(TIMEOUT_MS * 5);
    expect(h.onPeerLost).not.toHaveBeenCalled();
    expect(h.monitor.isPeerAlive).toBe(true);
  });
});

describe('HeartbeatMonitor: its own stall is no evidence about the peer', () => {
  /** The deferred verdict is a (faked) setImmediate: it runs at the next turn of the fake loop. */
  const nextTurn = () => {
    vi.advanceTimersToNextTimer();
  };

  it('after the process stood still, beats that arrived meanwhile are read before the peer is judged', () => {
    h = setup();
    h.monitor.start();
    h.advanceWithBeats(500);
    h.stall(1_000);
    vi.advanceTimersToNextTimer();
    expect(h.onPeerLost).not.toHaveBeenCalled();
    // What the I/O phase delivers before the deferred verdict.
    h.peerBeat();
    nextTurn();
    h.advanceWithBeats(500);
    expect(h.onPeerLost).not.toHaveBeenCalled();
  });

  it('a peer that stayed silent through our stall is still lost, one turn of the loop later', () => {
    h = setup();
    h.monitor.start();
    h.advanceWithBeats(500);
    h.stall(1_000);
    vi.advanceTimersToNextTimer();
    expect(h.onPeerLost).not.toHaveBeenCalled();
    nextTurn();
    expect(h.onPeerLost).toHaveBeenCalledTimes(1);
    expect(h.onPeerLost.mock.calls[0]![0]).toMatch(/^no heartbeat from alpha for \d+ ms$/);
  });
});
