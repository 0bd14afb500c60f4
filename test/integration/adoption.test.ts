import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeDirs } from '../../cli/demo/pair-config.js';
import { isPidAlive } from '../../shared/local/index.js';
import { processPair } from '../helpers/process-pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

async function localPair(name: string) {
  return processPair(tmpRun(name));
}

describe('agent restarts adopt the running qemu and never disturb the VM', () => {
  it.each(['alpha', 'beta'] as const)('SIGKILL then restart of the %s agent: adopted, COLO never left, no failover', async (node) => {
    const { pair, nodeStatus, protectedStatus } = await localPair(`adopt-${node}`);
    const before = await protectedStatus();
    const qemuPid = before.nodes.find((n) => n.node === node)!.qemuPid!;
    process.kill(pair.agentPid(node), 'SIGKILL');
    await new Promise((r) => setTimeout(r, 1_000));
    pair.restartAgent(node);
    const adopted = await waitFor(async () => {
      const s = await nodeStatus(node).catch(() => null);
      return s && /adopted the running qemu/.test(s.reason) ? s : false;
    }, { timeoutMs: 20_000, what: `${node} to report adoption` });
    expect(adopted.qemuPid).toBe(qemuPid);
    const after = await protectedStatus(10_000);
    expect(after.epoch).toBe(before.epoch);
    expect(after.nodes.map((n) => n.qemuPid)).toEqual(before.nodes.map((n) => n.qemuPid));
    const restarted = await nodeStatus(node);
    expect(restarted.transitions.map((t) => t.to)).not.toContain('launching');
    for (const n of ['alpha', 'beta']) {
      const s = await nodeStatus(n);
      expect(s.transitions.some((t) => ['claiming', 'takingOver', 'carryingOn', 'fencing'].includes(t.to))).toBe(false);
      expect(s.failover?.phase).toBe('watching');
    }
  });

  it('SIGTERM with --on-exit leave-vms leaves the VM running; the next agent adopts it', async () => {
    const { pair, nodeStatus, protectedStatus } = await localPair('adopt-leave');
    await protectedStatus();
    process.kill(pair.agentPid('alpha'), 'SIGKILL');
    pair.restartAgent('alpha', ['--on-exit', 'leave-vms']);
    // The first alpha agent is replaced by one that leaves its VM on exit; wait for it to adopt.
    const before = await protectedStatus();
    const qemuPid = before.nodes.find((n) => n.node === 'alpha')!.qemuPid!;
    const agentPid = pair.agentPid('alpha');
    process.kill(agentPid, 'SIGTERM');
    await waitFor(() => !isPidAlive(agentPid), { timeoutMs: 10_000, what: 'the agent to exit' });
    expect(isPidAlive(qemuPid)).toBe(true);
    pair.restartAgent('alpha');
    await waitFor(async () => {
      const s = await nodeStatus('alpha').catch(() => null);
      return s && /adopted/.test(s.reason) ? s : false;
    }, { timeoutMs: 20_000, what: 'adoption' });
    const after = await protectedStatus(10_000);
    expect(after.epoch).toBe(before.epoch);
    expect(after.nodes.find((n) => n.node === 'alpha')!.qemuPid).toBe(qemuPid);
  });

  it('a pid file pointing at an unrelated process is not adopted (and that process is left alone)', async () => {
    const dir = tmpRun('adopt-stranger');
    const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
    onTestFinished(() => void stranger.kill('SIGKILL'));
    const runDir = join(nodeDirs(dir, 'alpha').runtimeDir, 'vm1');
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'qemu.pid'), `${stranger.pid}\n`);
    const { nodeStatus, protectedStatus } = await processPair(dir);
    const s = await protectedStatus();
    const alpha = s.nodes.find((n) => n.node === 'alpha')!;
    expect(alpha.qemuPid).not.toBe(stranger.pid);
    expect(isPidAlive(stranger.pid!)).toBe(true);
    expect((await nodeStatus('alpha')).reason).not.toMatch(/adopted/);
  });
});
