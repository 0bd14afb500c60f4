import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it, onTestFinished } from 'vitest';
import { kvBuckets, kvKeys, nodeStatusSchema, decodeWith, subjects } from '../../shared/nats/index.js';
import { leaseRecordSchema } from '../../shared/lease/index.js';
import { ANY_SUBJECT_GARBAGE, MAX_PAYLOAD, VERB_GARBAGE, captureLog, deepJsonOfSize, heartbeatGarbage, jsonOfSize, servedSubjects } from '../helpers/garbage.js';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { rawNats } from '../helpers/raw-nats.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

const NODES = ['alpha', 'beta'] as const;
type Node = (typeof NODES)[number];
const peerOf = (n: Node): Node => (n === 'alpha' ? 'beta' : 'alpha');
/** Nothing serves these: a request is simply not answered within this. */
const UNSERVED_MS = 300;

type Outcome = 'error' | 'refused' | 'unanswered' | 'accepted';

/** How the agent answered: an error envelope, a well-formed refusal, nothing, or (the failure) an acceptance. */
function outcomeOf(reply: string | null): Outcome {
  if (reply === null) return 'unanswered';
  const r = JSON.parse(reply) as { ok: boolean; data?: { accepted?: boolean; ready?: boolean; ok?: boolean } };
  if (!r.ok) return 'error';
  const d = r.data ?? {};
  return d.accepted === false || d.ready === false || d.ok === false ? 'refused' : 'accepted';
}

/** Checkpoints per second on the primary between two status reads. */
async function countAt(pair: TestPair): Promise<{ count: number; at: number }> {
  const s = await pair.status();
  return { count: s.checkpoints.count, at: Date.now() };
}
const rateOf = (a: { count: number; at: number }, b: { count: number; at: number }) => ((b.count - a.count) * 1000) / (b.at - a.at);

describe('garbage on every subject an agent listens on (real qemu pair, real nats-server)', () => {
  it('is refused or dropped and logged at a bounded rate; no restart, no failover, checkpoints keep their rate', async () => {
    const pair = await setupPair(tmpRun('nats-garbage'));
    const logs = { alpha: captureLog('alpha'), beta: captureLog('beta') };
    // Kept with the run's directory when the test fails.
    onTestFinished(() => { for (const n of NODES) writeFileSync(join(pair.dir, `${n}-agent.log`), logs[n].lines.map((l) => JSON.stringify(l)).join('\n')); });
    await pair.startAgent('beta', { log: logs.beta.log });
    await pair.startAgent('alpha', { log: logs.alpha.log });
    const start = await pair.waitProtected(undefined, 60_000);
    const agents = { alpha: pair.agent('alpha')!, beta: pair.agent('beta')! };
    const qemuPids = { alpha: pair.qemuPid('alpha', 'vm1'), beta: pair.qemuPid('beta', 'vm1') };
    expect(qemuPids.alpha).toBeGreaterThan(0);
    expect(qemuPids.beta).toBeGreaterThan(0);
    const raw = await rawNats(pair.natsUrl);
    onTestFinished(() => raw.close());
    const { pair: pairName } = pair.config;
    const epoch = start.epoch;

    const t0 = await countAt(pair);
    await sleep(3_000);
    const t1 = await countAt(pair);
    const warnFrom = { alpha: logs.alpha.lines.length, beta: logs.beta.lines.length };

    // 1. Every request subject of both agents, every kind of garbage: each answered with an error or a refusal.
    const outcomes: Array<{ subject: string; payload: string; outcome: Outcome }> = [];
    const ask = async (subject: string, payload: string, timeoutMs = 5_000) => {
      const outcome = outcomeOf(await raw.request(subject, payload, timeoutMs));
      outcomes.push({ subject, payload: payload.slice(0, 60), outcome });
      return outcome;
    };
    let sent = 0;
    for (const node of NODES) {
      for (const { verb, subject } of servedSubjects(pairName, 'vm1', node)) {
        for (const payload of [...ANY_SUBJECT_GARBAGE, ...VERB_GARBAGE[verb]]) await ask(subject, payload);
        // At the server's max_payload: relayed to the agent, refused by it.
        expect(await ask(subject, jsonOfSize(MAX_PAYLOAD))).toBe('error');
        expect(await ask(subject, deepJsonOfSize(MAX_PAYLOAD))).toBe('error');
        sent += ANY_SUBJECT_GARBAGE.length + VERB_GARBAGE[verb].length + 2;
      }
    }
    const bad = outcomes.filter((o) => o.outcome === 'accepted' || o.outcome === 'unanswered');
    expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);

    // 2. Another VM's or node's name in the subject: nothing serves it, nothing answers.
    for (const subject of [subjects.rpc(pairName, 'vm9', 'alpha', 'drill'), subjects.rpc(pairName, 'vm1', 'gamma', 'drill'), subjects.agentStatus(pairName, 'gamma')]) {
      expect(await ask(subject, '{"mode":"crash"}', UNSERVED_MS)).toBe('unanswered');
    }

    // 3. Heartbeats: garbage, and well-formed beats that would fail the VM over if believed (another VM, another node, a stale epoch).
    for (const node of NODES) {
      const subject = subjects.heartbeat(pairName, 'vm1', node);
      for (const payload of [...ANY_SUBJECT_GARBAGE, ...heartbeatGarbage('vm1', node, epoch), jsonOfSize(MAX_PAYLOAD), deepJsonOfSize(MAX_PAYLOAD)]) {
        raw.publish(subject, payload);
        sent++;
      }
    }
    await raw.flush();

    // 4. A burst of 1,000 mixed, without waiting between them.
    const mixed = NODES.flatMap((node) => [
      ...servedSubjects(pairName, 'vm1', node).flatMap(({ verb, subject }) => [...ANY_SUBJECT_GARBAGE, ...VERB_GARBAGE[verb]].map((payload) => ({ subject, payload, request: true }))),
      ...heartbeatGarbage('vm1', node, epoch).map((payload) => ({ subject: subjects.heartbeat(pairName, 'vm1', node), payload, request: false })),
    ]);
    const burst = Array.from({ length: 1_000 }, (_, i) => (i % 100 === 99 ? { ...mixed[i % mixed.length]!, payload: deepJsonOfSize(MAX_PAYLOAD) } : mixed[i % mixed.length]!));
    const burstStarted = Date.now();
    const replies = await Promise.all(burst.map((m) => (m.request ? ask(m.subject, m.payload, 20_000) : (raw.publish(m.subject, m.payload), Promise.resolve('dropped' as const)))));
    const burstMs = Date.now() - burstStarted;
    sent += burst.length;
    const badBurst = replies.flatMap((r, i) => (r === 'accepted' || r === 'unanswered' ? [{ r, subject: burst[i]!.subject, payload: burst[i]!.payload.slice(0, 60) }] : []));
    expect(badBurst).toEqual([]);
    const t2 = await countAt(pair);

    // 5. The agents stayed up and answer: same instances, same qemu, still protected, no failover.
    await sleep(3_000);
    const t3 = await countAt(pair);
    const after = await pair.waitProtected();
    expect(pair.agent('alpha')).toBe(agents.alpha);
    expect(pair.agent('beta')).toBe(agents.beta);
    expect({ alpha: pair.qemuPid('alpha', 'vm1'), beta: pair.qemuPid('beta', 'vm1') }).toEqual(qemuPids);
    expect(after.nodes.map((n) => [n.node, n.role, n.qemuPid])).toEqual([['alpha', 'primary', qemuPids.alpha], ['beta', 'secondary', qemuPids.beta]]);
    expect(after.epoch).toBe(epoch);
    for (const node of NODES) expect(logs[node].lines.filter((l) => l.msg === 'agent started')).toHaveLength(1);

    // 6. Checkpoints kept their rate during the garbage: none lost beyond the normal rate.
    const before = rateOf(t0, t1);
    const during = rateOf(t1, t2);
    const afterRate = rateOf(t2, t3);
    console.log(`checkpoints/s before ${before.toFixed(2)}, during the garbage (${((t2.at - t1.at) / 1000).toFixed(1)} s, burst ${burstMs} ms) ${during.toFixed(2)}, after ${afterRate.toFixed(2)}; ${sent} bad messages sent`);
    expect(during).toBeGreaterThanOrEqual(before * 0.8);
    expect(afterRate).toBeGreaterThanOrEqual(before * 0.8);

    // 7. Logged, at a bounded rate: a handful of warn lines per subject, not one per message.
    for (const node of NODES) {
      const warned = logs[node].warnings(warnFrom[node]);
      const bySubject = new Map<string, number>();
      for (const l of warned) bySubject.set(`${l.msg} ${l.subject ?? ''}`, (bySubject.get(`${l.msg} ${l.subject ?? ''}`) ?? 0) + 1);
      console.log(`${node}: ${warned.length} warn lines`, Object.fromEntries(bySubject));
      expect(warned.filter((l) => l.level >= 50)).toEqual([]);
      expect(warned.length).toBeGreaterThan(0);
      expect(warned.length).toBeLessThanOrEqual(60);
      for (const [kind, n] of bySubject) expect(n, kind).toBeLessThanOrEqual(6);
    }
  });
});
