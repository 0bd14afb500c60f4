import type { LocalPair } from '../cli/demo/local-pair.js';
import { queryPairStatus } from '../cli/pair-status.js';
import { loadConfig } from '../shared/config/index.js';
import { silentLogger } from '../shared/log.js';
import { connectBus } from '../shared/nats/index.js';
import { natsAuth } from '../cli/connect.js';
import { sleep } from '../shared/sleep.js';

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export function fmtMs(v: number): string {
  return `${v.toFixed(1)} ms`;
}

export function ratio(a: number, floor: number): string {
  return `${(a / floor).toFixed(2)}x`;
}

/** Poll the agents until the pair's first VM is protected (bench set-up, not a figure). */
export async function waitPairProtected(query: () => Promise<{ vms: Array<{ protected: boolean }> }>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await query()).vms[0]?.protected) {
    if (Date.now() > deadline) throw new Error(`pair not protected within ${timeoutMs / 1000} s`);
    await sleep(50);
  }
}

/** A local pair's first VM protected, asked over its own NATS by a client that leaves before the measurement starts. */
export async function awaitLocalPairProtected(pair: LocalPair, name: string, timeoutMs = 60_000): Promise<void> {
  const config = loadConfig(pair.configPath);
  const bus = await connectBus({ ...natsAuth(config), name, log: silentLogger() });
  try {
    await waitPairProtected(() => queryPairStatus(bus, config, 1_000), timeoutMs);
  } finally {
    await bus.close();
  }
}
