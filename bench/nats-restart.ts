/**
 * bench:failover's "NATS restart during COLO" row: kill -9 the pair's nats-server while
 * COLO runs, keep it down, restart it on the same port and store, and count what the
 * outage cost: failovers and fences (goal 0), checkpoints missing against the rate before,
 * and the longest checkpoint pause the primary reported around it.
 */
import { join } from 'node:path';
import { startLocalPair } from '../cli/demo/local-pair.js';
import { queryNodeStatus, queryPairStatus } from '../cli/pair-status.js';
import { loadConfig } from '../shared/config/index.js';
import { startLocalNats } from '../shared/local/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus } from '../shared/nats/index.js';
import { natsAuth } from '../cli/connect.js';
import { waitPairProtected } from './stats.js';
import { sleep } from '../shared/sleep.js';

const ACTING = ['claiming', 'takingOver', 'carryingOn', 'fencing', 'fenced', 'releasing'];

export interface NatsRestartResult {
  failovers: number;
  fences: number;
  checkpointsMissing: number;
  longestPauseMs: number;
}

export async function natsRestartOnce(dir: string, accelerator: 'auto' | 'tcg', downMs: number): Promise<NatsRestartResult> {
  const pair = await startLocalPair({ dir, accelerator });
  let restarted: Awaited<ReturnType<typeof startLocalNats>> | null = null;
  try {
    const config = loadConfig(pair.configPath);
    const bus = await connectBus({ ...natsAuth(config), name: 'bench-nats-restart', log: silentLogger() });
    try {
      await waitPairProtected(() => queryPairStatus(bus, config, 1_000), 60_000);
      await sleep(2_000);
      const before = (await queryPairStatus(bus, config, 1_000)).vms[0]!;
      const t0 = Date.now();
      process.kill(pair.nats.pid, 'SIGKILL');
      await pair.nats.exited;
      await sleep(downMs);
      restarted = await startLocalNats({ dir: join(dir, 'nats'), port: pair.nats.port, configText: pair.natsAuth.serverConfig });
      await waitPairProtected(() => queryPairStatus(bus, config, 1_000), 30_000);
      let longestPauseMs = before.checkpoints.lastPauseMs ?? 0;
      // A few samples after the return: the pause figures of the checkpoints around it.
      for (let i = 0; i < 10; i++) {
        const s = (await queryPairStatus(bus, config, 1_000)).vms[0]!;
        longestPauseMs = Math.max(longestPauseMs, s.checkpoints.lastPauseMs ?? 0);
        await sleep(100);
      }
      const after = (await queryPairStatus(bus, config, 1_000)).vms[0]!;
      const elapsedS = (Date.now() - t0) / 1000;
      const expected = before.checkpoints.ratePerSec * elapsedS;
      const observed = after.checkpoints.count - before.checkpoints.count;
      let fences = 0;
      let acting = 0;
      for (const node of config.nodes.map((n) => n.name)) {
        const st = await queryNodeStatus(bus, config.pair, node, 'vm1');
        fences += st?.transitions.filter((t) => t.to === 'fencing').length ?? 0;
        acting += st?.transitions.filter((t) => ACTING.includes(t.to)).length ?? 0;
      }
      return { failovers: after.epoch - before.epoch + (acting > 0 && after.epoch === before.epoch ? 1 : 0), fences, checkpointsMissing: Math.max(0, Math.round(expected - observed)), longestPauseMs };
    } finally {
      await bus.close();
    }
  } finally {
    await pair.teardown();
    await restarted?.stop();
  }
}
