import { execFileSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export interface NetnsPair {
  addresses: { alpha: string; beta: string };
  /** A qemu binary that runs inside the node's namespace (QMP stays on unix sockets, reachable from here). */
  qemuBinary(node: 'alpha' | 'beta'): string;
  /** The COLO stream relay, in the node's namespace too: it binds and connects the node's replication address. */
  relayBinary(node: 'alpha' | 'beta'): string;
  /** Cut the link between the two hosts (packets go nowhere, as in a real partition). */
  cut(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });

/**
 * Two test hosts made of network namespaces joined by a veth pair: each node's qemu runs
 * in its own namespace, so the test can partition the replication link between them
 * while both agents (in this process) keep their own NATS paths. Removed when the test ends.
 */
export function createNetnsPair(dir: string): NetnsPair {
  const tag = `cft${process.pid % 10000}${Math.floor(Math.random() * 1000)}`;
  const ns = { alpha: `${tag}a`, beta: `${tag}b` };
  const subnet = 10 + (process.pid % 200);
  const addresses = { alpha: `10.${subnet}.77.1`, beta: `10.${subnet}.77.2` };
  onTestFinished(() => {
    for (const n of Object.values(ns)) {
      try {
        ip('netns', 'del', n);
      } catch {
        // already gone
      }
    }
  });
  for (const n of Object.values(ns)) {
    ip('netns', 'add', n);
    ip('-n', n, 'link', 'set', 'lo', 'up');
  }
  ip('link', 'add', `${tag}va`, 'netns', ns.alpha, 'type', 'veth', 'peer', 'name', `${tag}vb`, 'netns', ns.beta);
  ip('-n', ns.alpha, 'addr', 'add', `${addresses.alpha}/24`, 'dev', `${tag}va`);
  ip('-n', ns.beta, 'addr', 'add', `${addresses.beta}/24`, 'dev', `${tag}vb`);
  ip('-n', ns.alpha, 'link', 'set', `${tag}va`, 'up');
  ip('-n', ns.beta, 'link', 'set', `${tag}vb`, 'up');
  const wrappers = { alpha: join(dir, 'qemu-in-alpha'), beta: join(dir, 'qemu-in-beta') };
  const relays = { alpha: join(dir, 'socat-in-alpha'), beta: join(dir, 'socat-in-beta') };
  for (const node of ['alpha', 'beta'] as const) {
    writeFileSync(wrappers[node], `#!/bin/sh\nexec ip netns exec ${ns[node]} qemu-system-x86_64 "$@"\n`);
    writeFileSync(relays[node], `#!/bin/sh\nexec ip netns exec ${ns[node]} socat "$@"\n`);
    chmodSync(wrappers[node], 0o755);
    chmodSync(relays[node], 0o755);
  }
  return {
    addresses,
    qemuBinary: (node) => wrappers[node],
    relayBinary: (node) => relays[node],
    cut: () => {
      // Both ends down: packets go nowhere and no RST comes back, so neither qemu is told (no iptables or netem here).
      ip('-n', ns.alpha, 'link', 'set', `${tag}va`, 'down');
      ip('-n', ns.beta, 'link', 'set', `${tag}vb`, 'down');
    },
  };
}
