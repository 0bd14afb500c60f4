
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { parseConfigText, type Config } from '../../shared/config/index.js';
import { issuePairPki } from '../../shared/tls/index.js';
import { pidsUnder } from '../../shared/local/index.js';
import { silentLogger } from '../../shared/log.js';
import { launchVm, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { waitFor } from './wait-for.js';

export const QEMU = 'qemu-system-x86_64';

export type TestNode = 'alpha' | 'beta';

export function nodeImageDir(dir: string, node: TestNode): string {
  return join(dir, node, 'images');
}

/** `format=raw,target=dI.img,colo,...` with overlays aI/hI.qcow2 and export dI. */
export function coloDiskSpec(index: number, nbdPort: number): string {
  return `format=raw,target=d${index}.img,colo,colo-params=127.0.0.1:${nbdPort}:exportname=d${index},active-disk=a${index}.qcow2,hidden-disk=h${index}.qcow2`;
}

export function plainDiskSpec(index: number): string {
  return `format=raw,target=d${index}.img`;
}

/** A pair on loopback (alpha primary, beta secondary), each node with its own dirs under `dir`, and one VM `vm1`. */
export function vmTestConfig(dir: string, o: { disks: string[]; migrationPort: number; memoryMiB?: number }): Config {
  const node = (name: TestNode, initialRole: 'primary' | 'secondary') => ({
    name,
    address: '127.0.0.1',
    initialRole,
    runtimeDir: join(dir, name, 'run'),
    imageDir: nodeImageDir(dir, name),
  });
  const doc = {
    pair: 'adapters',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    nodes: [node('alpha', 'primary'), node('beta', 'secondary')],
    // TLS on the data channels, as in production: the pair's certificates are issued per test.
    replication: { tls: 'on', pkiDir: join(dir, 'pki') },
    // Drive-only on every accelerator (no guest: no canary disk, nothing attached).
    vms: [{ name: 'vm1', memoryMiB: o.memoryMiB ?? 64, machine: { type: 'none' }, migrationPort: o.migrationPort, disks: o.disks }],
  };
  issuePairPki({ dir: join(dir, 'pki'), pair: 'adapters', nodes: doc.nodes.map((n) => ({ name: n.name, address: n.address })), force: true });
  // JSON is YAML: this goes through the same parser as an operator's file.
  return parseConfigText(JSON.stringify(doc), `${dir}/pair.yaml`);
}

/** PIDs of qemu processes whose command line mentions `dir` (every test VM lives under its own tmp dir). */
export function qemuPidsUnder(dir: string): number[] {
  return pidsUnder(dir, (name) => name.startsWith('qemu-system'));
}

/** PIDs of COLO stream relays (socat) serving a socket under `dir`. */
export function relayPidsUnder(dir: string): number[] {
  return pidsUnder(dir, (name) => name === 'socat');
}

/** SIGKILL, by PID, every qemu (and relay) started for `dir`, and wait until they are gone. */
export async function killQemuUnder(dir: string): Promise<void> {
  for (const pid of [...qemuPidsUnder(dir), ...relayPidsUnder(dir)]) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await waitFor(() => qemuPidsUnder(dir).length === 0 && relayPidsUnder(dir).length === 0, { timeoutMs: 5_000, what: `no qemu or relay left under ${dir}` });
}

/**
 * launchVm with cleanup registered first: whatever happens in the test, the
 * qemu is SIGKILLed by PID (found through its command line) and the monitors closed.
 */
export async function startVm(dir: string, plan: VmPlan, qmpTimeoutMs = 10_000): Promise<VmInstance> {
  let vm: VmInstance | undefined;
  onTestFinished(async () => {
    if (vm?.proc.isRunning) {
      try {
        process.kill(vm.proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await killQemuUnder(dir);
    await vm?.qmp.close();
    await vm?.oob.close();
  });
  vm = await launchVm({ binary: QEMU, plan, qmpTimeoutMs, log: silentLogger() });
  return vm;
}
