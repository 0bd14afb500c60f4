import { describe, expect, it, onTestFinished } from 'vitest';
import { startLocalPair } from '../../cli/demo/local-pair.js';
import { queryPairStatus } from '../../cli/pair-status.js';
import { loadConfig } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/log.js';
import { agentStatusReplySchema, connectBus, subjects } from '../../shared/nats/index.js';
import { kvmForTests } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A dead agent is not a dead VM: while checkpoints still complete, its peer
 * must not fail over (that would leave two live copies: the orphaned qemu runs on).
 */
describe('an agent process killed in COLO running', () => {
  it.each(['alpha', 'beta'] as const)('SIGKILL of the %s agent: its qemu keeps running in COLO and the peer does not fail over', async (victim) => {
    const dir = tmpRun(`agent-killed-${victim}`);
    const pair = await startLocalPair({ dir, accelerator: kvmForTests() ? 'auto' : 'tcg' });
    onTestFinished(async () => {
      await pair.teardown();
    });
    const config = loadConfig(pair.configPath);
    const bus = await connectBus({ servers: [pair.nats.url], name: 'test', log: silentLogger() });
    onTestFinished(() => bus.close());
    const before = await waitFor(async () => {
      const vm = (await queryPairStatus(bus, config, 1_000)).vms[0];
      return vm?.protected ? vm : false;
    }, { timeoutMs: 60_000, what: 'protected' });
    const survivor = victim === 'alpha' ? 'beta' : 'alpha';
    const victimPid = pair.agentPid(victim);
    process.kill(victimPid, 'SIGKILL');
    const peer = async () => (await bus.request(subjects.agentStatus(config.pair, survivor), {}, agentStatusReplySchema, { timeoutMs: 1_000 })).vms[0]!;
    const noticed = await waitFor(async () => {
      const s = await peer();
      return /checkpoints still complete/.test(s.reason) ? s : false;
    }, { timeoutMs: 10_000, what: `${survivor} to notice the silent agent and keep COLO` });
    expect(noticed.failover?.phase).toBe('watching');
    // Well past the heartbeat timeout and the lease TTL: still no failover.
    await new Promise((r) => setTimeout(r, 4_000));
    const after = await peer();
    expect(after.epoch).toBe(before.epoch);
    expect(after.coloMode).toBe(survivor === 'alpha' ? 'primary' : 'secondary');
    expect(after.checkpoints.count).toBeGreaterThan(noticed.checkpoints.count);
    expect(after.transitions.some((t) => ['claiming', 'takingOver', 'carryingOn', 'fencing'].includes(t.to))).toBe(false);
  });
});
