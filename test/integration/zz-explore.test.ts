import { it } from 'vitest';
import { startNatsCluster, violations } from '../helpers/nats-cluster.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { kvBuckets } from '../../shared/nats/index.js';

it('explore fc', async () => {
  const c = await startNatsCluster(tmpRun('explore'), [{ name: 'demo', nodes: ['alpha', 'beta'] }], {
    editAccounts: (t) => t.split('\n').filter((l) => !l.includes('$JS.FC')).join('\n'),
  });
  const a = await c.connect('demo-alpha');
  const skv = await a.kv(kvBuckets.status('demo'), { replicas: 3 });
  const big = new Uint8Array(60_000).fill(65);
  await Promise.all(Array.from({ length: 400 }, (_, i) => skv.put(`vm${i}.alpha`, big)));
  const d = await c.connect('demo-dashboard');
  const dkv = await d.kv(kvBuckets.status('demo'), { replicas: 3 });
  const w = await dkv.watch();
  let n = 0;
  const t0 = Date.now();
  for await (const _ of w) { if (++n >= 400) break; }
  console.log('got', n, Date.now() - t0, 'ms');
  w.stop();
  await new Promise((r) => setTimeout(r, 300));
  console.log(violations(c.logs()).join('\n'));
}, 120_000);
