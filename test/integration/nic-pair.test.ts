import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { NicLive } from '../../agent/reconcile/nic-live.js';
import { compareTracePath } from '../../shared/nic/index.js';
import type { NicStatus } from '../../shared/nats/index.js';
import { frameSender, ipv4UdpFrame } from '../helpers/udp-frame.js';
import { waitFor } from '../helpers/wait-for.js';
import { runDrill } from '../../cli/drill/run-drill.js';
import { runRestore } from '../../cli/restore/run-restore.js';
import { freePorts } from '../../shared/local/index.js';
import { setupPair, type TestPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';

type Node = 'alpha' | 'beta';

/** The ids under /objects of a node's qemu (HMP qom-list prints `name (type)` per line). */
async function objects(pair: TestPair, node: Node): Promise<string[]> {
  const text = await pair.agent(node)!.controllers()[0]!.hmp('qom-list /objects');
  return text
    .split('\n')
    .map((l) => l.trim().split(' ')[0]!)
    .filter((id) => /^(m|redire|sredire|rew|comp|iothread)\d/.test(id))
    .sort();
}

const PRIMARY_PROXY = ['comp0', 'iothread0', 'm0', 'redire0a', 'redire0b'];
const SECONDARY_PROXY = ['rew0', 'sredire0a', 'sredire0b'];

/** A pair on TCG with `-machine none` and one proxied NIC (a hub port as its peer), protected. */
async function protectedNicPair(name: string, mac: string, o: { checkpointDelayMs?: number; beforeStart?: () => void } = {}): Promise<TestPair> {
  const [mirrorPort, comparePort] = await freePorts(2);
  const pair = await setupPair(tmpRun(name), {
    accelerator: 'tcg',
    checkpointDelayMs: o.checkpointDelayMs,
    restore: { auto: false },
    vmExtra: { machine: { type: 'none', accelerator: 'tcg' }, nics: [{ model: 'none', mac, netdev: { type: 'user' }, proxy: { mirrorPort, comparePort } }] },
  });
  o.beforeStart?.();
  await pair.startAgent('alpha');
  await pair.startAgent('beta');
  await pair.waitProtected();
  return pair;
}

/**
 * The COLO network proxy driven by the agents, on TCG with `-machine none`: a
 * `user` netdev with a hub port as its peer (no guest NIC), so the filters are
 * real qemu objects on the right nodes without a guest to compare.
 */
describe('the COLO network proxy through the agents', () => {
  it('protect puts the proxy on both nodes; after failover the survivor keeps only its rewriter; a restore inserts the new primary filters before it', async () => {
    const pair = await protectedNicPair('nic-pair', '52:54:00:12:34:56');
    expect(await objects(pair, 'alpha')).toEqual(PRIMARY_PROXY);
    expect(await objects(pair, 'beta')).toEqual(SECONDARY_PROXY);

    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(drill, drill.reason).toMatchObject({ ok: true, survivor: 'beta' });
    // The survivor talks straight to its netdev again; the rewriter stays for the TCP sequence numbers it already rewrote.
    expect(await objects(pair, 'beta')).toEqual(['rew0']);

    const report = await runRestore(pair.client, pair.config, { vm: 'vm1', timeoutMs: 60_000 });
    expect(report, report.reason).toMatchObject({ protected: true, survivor: 'beta', target: 'alpha' });
    expect(await objects(pair, 'beta')).toEqual([...PRIMARY_PROXY, 'rew0'].sort());
    expect(await objects(pair, 'alpha')).toEqual(SECONDARY_PROXY);
    // Order on the netdev (`info network` lists it): the new primary's filters sit before the kept rewriter (insert: before).
    const network = await pair.agent('beta')!.controllers()[0]!.hmp('info network');
    expect([...network.matchAll(/^\s+- (\S+): type=/gm)].map((m) => m[1])).toEqual(['m0', 'redire0a', 'redire0b', 'rew0']);
  });

  it('status shows each NIC as qemu holds it and colo-compare figures from its trace: compared packets, a miscompare and the checkpoint it forced', async () => {
    const [genAlpha, genBeta, sink] = await freePorts(3);
    const rotateAt = NicLive.rotateAtBytes;
    onTestFinished(() => void (NicLive.rotateAtBytes = rotateAt));
    // Periodic checkpoints far apart, so a checkpoint soon after a miscompare can only be the one it forced.
    const pair = await protectedNicPair('nic-figures', '52:54:00:12:34:57', { checkpointDelayMs: 30_000, beforeStart: () => void (NicLive.rotateAtBytes = 3_000) });
    // A stand-in for the guest: a socket netdev on the NIC's hub, so a datagram sent to it is output the NIC's netdev carries.
    const gen = { alpha: genAlpha!, beta: genBeta! };
    for (const n of ['alpha', 'beta'] as const) {
      const c = pair.agent(n)!.controllers()[0]!;
      await c.hmp(`netdev_add socket,id=gen0,udp=127.0.0.1:${sink},localaddr=127.0.0.1:${gen[n]}`);
      await c.hmp('netdev_add hubport,id=hpgen,hubid=0,netdev=gen0');
    }
    const nic = async (n: Node): Promise<NicStatus> => (await pair.agent(n)!.controllers()[0]!.statusFresh()).nics[0]!;
    expect(await nic('alpha')).toMatchObject({ index: 0, netdev: 'hn0', mac: '52:54:00:12:34:57', proxied: true, proxy: 'primary', objects: PRIMARY_PROXY, packetsCompared: 0, miscompares: 0, miscompareCheckpoints: 0 });
    expect(await nic('beta')).toMatchObject({ proxy: 'secondary', objects: SECONDARY_PROXY, packetsCompared: null, miscompares: null });

    const tx = frameSender();
    onTestFinished(() => tx.close());
    const both = async (a: string, b = a): Promise<void> => {
      await tx.send(gen.alpha, ipv4UdpFrame(Buffer.from(a)));
      await tx.send(gen.beta, ipv4UdpFrame(Buffer.from(b)));
    };
    // Enough identical output to roll the trace log over more than once: the figures carry on across it.
    // One pair at a time: a burst lets one copy overtake the other, which colo-compare rightly calls different.
    let same = await nic('alpha');
    for (let i = 0; i < 40; i++) {
      await both(`same ${i}`);
      const seen = same.packetsCompared!;
      same = await waitFor(async () => { const v = await nic('alpha'); return v.packetsCompared! > seen && v; }, { timeoutMs: 10_000, what: `packet ${i} compared` });
    }
    expect(same).toMatchObject({ miscompares: 0, miscompareCheckpoints: 0 });
    const trace = compareTracePath(join(pair.dir, 'alpha', 'run', 'vm1'));
    expect(statSync(trace).size).toBeLessThan(3_000 + 1_000);
    expect(existsSync(`${trace}.1`)).toBe(false);

    const before = (await pair.agent('alpha')!.controllers()[0]!.statusFresh()).checkpoints.count;
    await both('primary says A', 'secondary says B');
    const forced = await waitFor(async () => { const v = await nic('alpha'); return v.miscompareCheckpoints! >= 1 && v; }, { timeoutMs: 8_000, what: 'a checkpoint forced by the miscompare' });
    expect(forced.miscompares).toBeGreaterThanOrEqual(1);
    // The protect machine counts it once it completed (RESUME); the NIC's figure already has its start.
    await waitFor(async () => (await pair.agent('alpha')!.controllers()[0]!.statusFresh()).checkpoints.count > before, { timeoutMs: 5_000, what: 'the forced checkpoint completed' });
    expect((await pair.status()).nodes.find((n) => n.node === 'alpha')!.nics[0]).toMatchObject({ proxy: 'primary', miscompareCheckpoints: forced.miscompareCheckpoints });

    // The chardevs a lost secondary's yank cuts are yank instances on this qemu (a wrong name would make that yank a no-op).
    const yankable = (await pair.agent('alpha')!.controllers()[0]!.requireVm().qmp.execute('query-yank')) as Array<{ type: string; id?: string }>;
    expect(yankable).toEqual(expect.arrayContaining([{ type: 'chardev', id: 'mirror0' }, { type: 'chardev', id: 'compare0' }, { type: 'migration' }]));
    // Back to frequent checkpoints for the drill's data check, which waits for one.
    await pair.agent('alpha')!.controllers()[0]!.hmp('migrate_set_parameter x-checkpoint-delay 200');
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    expect(drill, drill.reason).toMatchObject({ ok: true, survivor: 'beta' });
    expect(await nic('beta')).toMatchObject({ proxy: 'rewriter', objects: ['rew0'], packetsCompared: null });
  });

  it('a hung secondary: the primary yanks its links, the NIC proxy included, drops the proxy and carries on alone', async () => {
    const pair = await protectedNicPair('nic-hang', '52:54:00:12:34:58');
    const drill = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'secondary', mode: 'hang' });
    expect(drill, drill.reason).toMatchObject({ ok: true, survivor: 'alpha' });
    expect(await objects(pair, 'alpha')).toEqual([]);
    const nic = (await pair.agent('alpha')!.controllers()[0]!.statusFresh()).nics[0]!;
    expect(nic).toMatchObject({ proxy: 'none', objects: [] });
  });
});
