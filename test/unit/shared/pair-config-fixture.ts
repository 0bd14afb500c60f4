import { stringify } from 'yaml';
import { parseConfigText, type Config } from '../../../shared/config/index.js';

/** A two-node pair config with one VM and the given disks, parsed as the CLI would (the unit tests' common shape). */
export function pairConfigWithDisks(disks: unknown[], o: { betaAddress: string; fileName: string }): Config {
  return parseConfigText(
    stringify({
      pair: 'demo',
      nats: { servers: ['nats://127.0.0.1:4222'] },
      nodes: [
        { name: 'alpha', address: '127.0.0.1', initialRole: 'primary', runtimeDir: '/run/colo-a', imageDir: '/var/lib/colo-a' },
        { name: 'beta', address: o.betaAddress, initialRole: 'secondary', runtimeDir: '/run/colo-b', imageDir: '/var/lib/colo-b' },
      ],
      vms: [{ name: 'vm1', memoryMiB: 64, migrationPort: 9100, disks }],
    }),
    o.fileName,
  );
}
