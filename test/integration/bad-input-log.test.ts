import { describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { createLogger, silentLogger } from '../../shared/log.js';
import { connectBus } from '../../shared/nats/index.js';
import { startNatsServer } from '../helpers/nats.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

describe('bad input from the network, through a real nats-server', () => {
  it('a burst of 1,000 garbage requests is each refused, and logged in a handful of warn lines, not 1,000', async () => {
    const nats = await startNatsServer(tmpRun('bad-input-log'));
    const lines: Array<Record<string, unknown>> = [];
    const sink = { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) };
    const log = createLogger('bad-input', { level: 'warn', destination: sink as never });
    const server = await connectBus({ servers: [nats.url], name: 'served', log });
    const client = await connectBus({ servers: [nats.url], name: 'garbage', log: silentLogger() });
    onTestFinished(async () => {
      await client.close();
      await server.close();
    });
    let handled = 0;
    server.serve('test.rpc', z.object({ n: z.number() }).strict(), async () => ++handled);
    // The subscription reaches the server asynchronously: wait until a good request is answered.
    await waitFor(() => client.request('test.rpc', { n: 0 }, z.number(), { timeoutMs: 500 }).catch(() => false), { timeoutMs: 5_000, what: 'the served subject' });
    handled = 0;
    const refusals = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => client.request('test.rpc', { garbage: i }, z.unknown(), { timeoutMs: 5_000 }).then(() => 'accepted', (e: Error) => e.message)),
    );
    expect(refusals.every((r) => /BAD_REQUEST|unrecognized|n:/i.test(r)), refusals[0]).toBe(true);
    expect(handled).toBe(0);
    await waitFor(() => lines.length >= 1, { timeoutMs: 2_000, what: 'a warn line' });
    expect(lines.filter((l) => l.msg === 'rejected bad request').length).toBeLessThanOrEqual(5);
    // A good request still gets through.
    await expect(client.request('test.rpc', { n: 1 }, z.number(), { timeoutMs: 5_000 })).resolves.toBe(1);
    expect(handled).toBe(1);
  });
});
