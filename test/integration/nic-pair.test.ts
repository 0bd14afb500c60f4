import { describe, expect, it } from 'vitest';
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

/**
 * The COLO network proxy driven by the agents, on TCG with `-machine none`: a
 * `user` netdev with a hub port as its peer (no guest NIC), so the filters are
 * real qemu objects on the right nodes without a guest to compare.
 */
describe('the COLO network proxy through the agents', () => {
  it('protect puts the proxy on both nodes; after failover the survivor keeps only its rewriter; a restore inserts the new primary filters before it', async () => {
    const [mirrorPort, comparePort] = await freePorts(2);
    const pair = await setupPair(tmpRun('nic-pair'), {
      accelerator: 'tcg',
      restore: { auto: false },
      vmExtra: { machine: { type: 'none', accelerator: 'tcg' }, nics: [{ model: 'none', mac: '52:54:00:12:34:56', netdev: { type: 'user' }, proxy: { mirrorPort, comparePort } }] },
    });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
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
});
