import { onTestFinished } from 'vitest';
import { natsAuth } from '../../cli/connect.js';
import { startLocalPair, type LocalPair } from '../../cli/demo/local-pair.js';
import { queryPairStatus } from '../../cli/pair-status.js';
import { loadConfig, type Config } from '../../shared/config/index.js';
import { silentLogger } from '../../shared/log.js';
import { agentStatusReplySchema, connectBus, subjects, type Bus, type NodeStatus } from '../../shared/nats/index.js';
import type { VmStatus } from '../../state-machines/index.js';
import { kvmForTests } from './pair.js';
import { waitFor } from './wait-for.js';
import { protectedOrWhy } from './why-not-protected.js';
import { printAgentLogTails } from './log-tails.js';

export interface ProcessPair {
  pair: LocalPair;
  config: Config;
  bus: Bus;
  nodeStatus(node: string): Promise<NodeStatus>;
  protectedStatus(timeoutMs?: number): Promise<VmStatus>;
}

/** The demo's pair: agents as real processes (so a test can SIGKILL and restart them), torn down by PID at the end. */
export async function processPair(dir: string): Promise<ProcessPair> {
  const pair = await startLocalPair({ dir, accelerator: kvmForTests() ? 'auto' : 'tcg' });
  onTestFinished(async (ctx) => {
    if (ctx.task.result?.state === 'fail') printAgentLogTails(dir);
    await pair.teardown();
  });
  const config = loadConfig(pair.configPath);
  // The operator's login (pair.yaml), as the CLI has it.
  const bus = await connectBus({ ...natsAuth(config), name: 'test', log: silentLogger() });
  onTestFinished(() => bus.close());
  return {
    pair,
    config,
    bus,
    nodeStatus: async (node) => (await bus.request(subjects.agentStatus(config.pair, node), {}, agentStatusReplySchema, { timeoutMs: 1_000 })).vms[0]!,
    protectedStatus: (timeoutMs = 60_000) =>
      waitFor(async () => {
        return protectedOrWhy((await queryPairStatus(bus, config, 1_000)).vms[0]);
      }, { timeoutMs, what: 'protected' }),
  };
}
