import { join } from 'node:path';
import { stringify } from 'yaml';
import { issuePairPki } from '../../shared/tls/index.js';
import type { NatsCredential } from './local-nats-auth.js';

export interface LocalVmSpec {
  name: string;
  migrationPort: number;
  nbdPort: number;
  disks: number;
}

export interface LocalPairSpec {
  pair: string;
  dir: string;
  natsUrl: string;
  vms: LocalVmSpec[];
  accelerator?: 'auto' | 'kvm' | 'tcg';
  checkpointDelayMs?: number;
  memoryMiB?: number;
  timings?: Record<string, number>;
  restore?: Record<string, number | boolean>;
  failover?: Record<string, string>;
  /** Node addresses (default 127.0.0.1 each); disks export on the initial secondary's. */
  addresses?: Partial<Record<string, string>>;
  /** Extra keys for every VM (e.g. assumeIdentical). */
  vmExtra?: Record<string, unknown>;
  /** Mutual TLS on NBD and the COLO stream, certificates in DIR/pki (default on, as in production). */
  tls?: 'on' | 'off';
}

/** Where a local pair keeps its CA and node certificates. */
export function localPkiDir(dir: string): string {
  return join(dir, 'pki');
}

/** Issue the local pair's certificates (a no-op with TLS off): as `colo-ft certs init` would. */
export function issueLocalPki(s: LocalPairSpec): void {
  if ((s.tls ?? 'on') === 'off') return;
  issuePairPki({ dir: localPkiDir(s.dir), pair: s.pair, nodes: LOCAL_NODES.map((n) => ({ name: n.name, address: s.addresses?.[n.name] ?? '127.0.0.1' })), force: true });
}

export const LOCAL_NODES = [
  { name: 'alpha', initialRole: 'primary' },
  { name: 'beta', initialRole: 'secondary' },
] as const;

export function nodeDirs(dir: string, node: string): { runtimeDir: string; imageDir: string } {
  return { runtimeDir: join(dir, node, 'run'), imageDir: join(dir, node, 'images') };
}

export function diskImageName(vm: string, index: number): string {
  return `${vm}-disk${index}.img`;
}

/** A two-node pair on loopback, both nodes on this host with their own directories; `login` is the NATS user this file connects as. */
export function localPairConfig(s: LocalPairSpec, login?: NatsCredential): string {
  const doc = {
    pair: s.pair,
    nats: { servers: [s.natsUrl], ...(login ? { user: login.user, password: login.password } : {}) },
    nodes: LOCAL_NODES.map((n) => ({ name: n.name, address: s.addresses?.[n.name] ?? '127.0.0.1', initialRole: n.initialRole, ...nodeDirs(s.dir, n.name) })),
    ...(s.timings ? { timings: s.timings } : {}),
    ...(s.restore ? { restore: s.restore } : {}),
    ...(s.failover ? { failover: s.failover } : {}),
    replication: { tls: s.tls ?? 'on', pkiDir: localPkiDir(s.dir) },
    vms: s.vms.map((vm) => ({
      name: vm.name,
      memoryMiB: s.memoryMiB ?? 64,
      machine: { type: 'auto', accelerator: s.accelerator ?? 'auto' },
      migrationPort: vm.migrationPort,
      checkpointDelayMs: s.checkpointDelayMs ?? 200,
      ...(s.vmExtra ?? {}),
      disks: Array.from({ length: vm.disks }, (_, i) =>
        [
          'format=raw',
          `target=${diskImageName(vm.name, i)}`,
          'colo',
          `colo-params=${s.addresses?.beta ?? '127.0.0.1'}:${vm.nbdPort}:exportname=${vm.name}-d${i}`,
          `active-disk=${vm.name}-active${i}.qcow2`,
          `hidden-disk=${vm.name}-hidden${i}.qcow2`,
        ].join(','),
      ),
    })),
  };
  return stringify(doc);
}
