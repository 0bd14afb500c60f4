import { describe, expect, it } from 'vitest';
import { processPair } from '../helpers/process-pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * A dead agent is not a dead VM: while checkpoints still complete, its peer
 * must not fail over (that would leave two live copies: the orphaned qemu runs on).
 */
describe('an agent process killed in COLO running', () => {
  it.each(['alpha', 'beta'] as const)('SIGKILL of the %s agent: its qemu keeps running in COLO and the peer does not fail over', async (victim) => {
    const { pair, nodeStatus, protectedStatus } = await processPair(tmpRun(`agent-killed-${victim}`));
    const before = await protectedStatus();
    const survivor = victim === 'alpha' ? 'beta' : 'alpha';
    process.kill(pair.agentPid(victim), 'SIGKILL');
    const peer = () => nodeStatus(survivor);
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
