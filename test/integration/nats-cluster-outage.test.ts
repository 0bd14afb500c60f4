import { describe, expect, it } from 'vitest';
import type { KvStore } from '../../shared/nats/index.js';
import { setupAuthPair } from '../helpers/auth-pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const ACTING = ['claiming', 'takingOver', 'carryingOn', 'fencing', 'fenced', 'releasing'];

describe('a 3-server NATS cluster losing the lease stream leader (default timings)', () => {
  it('the server leading the lease bucket killed: nobody fences or fails over, COLO keeps checkpointing, the epoch stays', async () => {
    const pair = await setupAuthPair(tmpRun('nats-cluster-leader'));
    const alpha = await pair.startAgent('alpha');
    const beta = await pair.startAgent('beta');
    const before = await pair.waitProtected();
    const a = alpha.controllers()[0]!;
    const leaseKv = (a as unknown as { d: { kv: KvStore } }).d.kv;
    const leader = await leaseKv.streamLeader();
    expect(leader, 'the lease bucket is replicated in the cluster').not.toBeNull();
    const member = pair.cluster.members.find((m) => m.name === leader)!;
    expect(member, `a member named ${leader}`).toBeDefined();
    const countBefore = a.status().checkpoints.count;
    await member.stop('SIGKILL');
    // Several lease TTLs (1.5 s) while the stream elects a new leader and the clients move.
    let unconfirmedSeen = false;
    const t = setInterval(() => (unconfirmedSeen ||= a.failover.keeper.unconfirmed), 10);
    await new Promise((r) => setTimeout(r, 8_000));
    clearInterval(t);
    console.log(`lease stream leader ${leader} killed: the lease went unconfirmed for a while: ${unconfirmedSeen}`);
    expect(a.status().checkpoints.count).toBeGreaterThan(countBefore + 10);
    const after = await pair.waitProtected(undefined, 30_000);
    expect(after.epoch).toBe(before.epoch);
    for (const c of [a, beta.controllers()[0]!]) {
      const s = c.status();
      expect(s.failover?.phase, s.reason).toBe('watching');
      expect(s.transitions.filter((t) => ACTING.includes(t.to))).toEqual([]);
    }
    await waitFor(() => !a.failover.keeper.unconfirmed, { timeoutMs: 15_000, what: 'alpha renewed its lease again' });
    expect(a.failover.epoch).toBe(before.epoch);
  }, 120_000);
});
