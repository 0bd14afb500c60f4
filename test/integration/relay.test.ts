import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { findRelay } from '../../shared/relay/index.js';
import { processCmdline, signalPid } from '../../shared/local/index.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

function refused(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

/** The COLO stream through the no-delay relay (socat on each side), on real qemu. */
describe('the COLO stream relay', () => {
  it.each(['on', 'off'] as const)('TLS %s: carries the stream unix to unix, lets no other connection reach qemu, and a relay that dies breaks the stream as a cut link would: one node serves', async (tls) => {
    const pair = await setupPair(tmpRun(`relay-tls-${tls}`), { restore: { auto: false }, tls });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    // Read from each qemu's objects, not from the config.
    await waitFor(async () => (await pair.status()).nodes.every((n) => n.dataTls === (tls === 'on')), { timeoutMs: 5_000, what: `dataTls ${tls === 'on'} on both nodes` });
    const plan = (n: 'alpha' | 'beta') => pair.agent(n)!.controllers()[0]!.plan();
    const a = plan('alpha');
    const b = plan('beta');
    expect(a.relay).not.toBeNull();
    const primaryRelay = findRelay(a.runDir, 'primary', a.relay!.outgoingSocket);
    const secondaryRelay = findRelay(b.runDir, 'secondary', b.relay!.incomingSocket);
    expect(primaryRelay).not.toBeNull();
    expect(secondaryRelay).not.toBeNull();
    const listen = tls === 'on' ? /^OPENSSL-LISTEN:\d+,bind=127\.0\.0\.1,reuseaddr,nodelay,fork,cert=.*,verify=1,commonname=alpha$/ : /^TCP-LISTEN:\d+,bind=127\.0\.0\.1,reuseaddr,nodelay$/;
    expect(processCmdline(secondaryRelay!)).toEqual(expect.arrayContaining([expect.stringMatching(listen)]));
    expect(processCmdline(pair.qemuPid('beta', 'vm1')!)).toEqual(expect.arrayContaining([`unix:${b.relay!.incomingSocket}`]));
    // Plain TCP: a second connection is refused. TLS: the listener stays for the real primary, and a
    // connection without the pair's certificate ends at the handshake, before qemu's socket. COLO carries on.
    expect(await refused(b.relay!.listen.port)).toBe(tls === 'on' ? 'connected' : 'ECONNREFUSED');
    const count = (await pair.status()).checkpoints.count;
    await waitFor(async () => (await pair.status()).checkpoints.count > count + 2, { timeoutMs: 10_000, what: 'checkpoints after the refused connection' });

    signalPid(primaryRelay!, 'SIGKILL');
    const after = await waitFor(async () => {
      const s = await pair.status();
      const alone = s.nodes.filter((n) => n.role === 'primary' && n.runState === 'running' && n.coloMode === 'none');
      return alone.length === 1 && s.nodes.some((n) => /peer still holds the lease|fenced/.test(n.reason)) ? s : false;
    }, { timeoutMs: 20_000, what: 'one node serving alone, the other refused the lease, after the relay died' });
    // Never two live copies: the side that lost the claim is no primary.
    expect(after.nodes.filter((n) => n.role === 'primary')).toHaveLength(1);
  });

  it('a relay that hangs is caught by the checkpoint stall detector: the pair says not protected, and protected again once it runs', async () => {
    const pair = await setupPair(tmpRun('relay-hang'), { restore: { auto: false } });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const b = pair.agent('beta')!.controllers()[0]!.plan();
    const relay = findRelay(b.runDir, 'secondary', b.relay!.incomingSocket)!;
    expect(relay).not.toBeNull();
    // The whole group: with TLS the stream runs in a child of the listening socat.
    signalPid(-relay, 'SIGSTOP');
    let resumed = false;
    try {
      const stalled = await waitFor(async () => {
        const s = await pair.status();
        return !s.protected && /checkpoints stalled/.test(s.reason) ? s : false;
      }, { timeoutMs: 15_000, what: 'the stall detector to call the pair unprotected' });
      expect(stalled.nodes.find((n) => n.node === 'alpha')!.phase).toBe('stalled');
      signalPid(-relay, 'SIGCONT');
      resumed = true;
      await pair.waitProtected('vm1', 15_000);
    } finally {
      if (!resumed) signalPid(-relay, 'SIGCONT');
    }
  });
});
