import { describe, expect, it } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { isPidAlive } from '../../shared/local/index.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';

describe('failover on real qemu and nats-server, data verified each time', () => {
  it.each([
    ['primary', 'crash'],
    ['secondary', 'crash'],
    ['primary', 'hang'],
    ['secondary', 'hang'],
  ] as const)('%s %s: the survivor takes over alone with a higher epoch and the pattern intact', async (fail, mode) => {
    const pair = await setupPair(tmpRun(`failover-${fail}-${mode}`));
    await pair.startAgent('alpha');
    await pair.startAgent('beta');
    await pair.waitProtected();
    const failedPid = pair.qemuPid(fail === 'primary' ? 'alpha' : 'beta', 'vm1')!;
    const report = await runDrill(pair.client, pair.config, { vm: 'vm1', fail, mode });
    expect(report, report.reason).toMatchObject({ ok: true, dataVerified: true, singleActive: true, survivor: fail === 'primary' ? 'beta' : 'alpha' });
    expect(report.epochAfter).toBeGreaterThan(report.epochBefore);
    expect(report.takeoverMs).not.toBeNull();
    expect(report.detectedMs!).toBeLessThanOrEqual(report.takeoverMs!);
    // The survivor timed its own steps after the lease; a crash proves COLO over, so the links were cut while the lease was won.
    const steps = report.takeoverStepsMs!;
    expect(Object.keys(steps)).toContain(fail === 'primary' ? 'x-colo-lost-heartbeat' : 'running');
    if (mode === 'crash') expect(Object.keys(steps)).not.toContain(fail === 'primary' ? 'nbd-server-stop' : 'drop-replication');
    // crash and hang both end with the failed qemu gone (a hung qemu is killed by its own agent).
    expect(isPidAlive(failedPid)).toBe(false);
    const s = await pair.status();
    expect(s.protected).toBe(false);
    expect(s.epoch).toBe(report.epochAfter);
  });
});
