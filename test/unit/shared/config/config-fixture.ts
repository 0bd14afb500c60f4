import { expect } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../../../shared/errors.js';
import { parseConfigText } from '../../../../shared/config/index.js';

// Test documents are edited freely, including into invalid shapes.
export type Doc = Record<string, any>;

export function minimal(): Doc {
  return {
    pair: 'demo',
    nats: { servers: ['nats://127.0.0.1:4222'] },
    nodes: [
      { name: 'alpha', address: '10.0.0.1', initialRole: 'primary', runtimeDir: '/run/a', imageDir: '/img/a' },
      { name: 'beta', address: '10.0.0.2', initialRole: 'secondary', runtimeDir: '/run/b', imageDir: '/img/b' },
    ],
    vms: [
      {
        name: 'vm1',
        memoryMiB: 64,
        migrationPort: 9100,
        disks: [
          'target=d0.img,colo,colo-params=10.0.0.2:9101:exportname=d0,active-disk=a0.qcow2,hidden-disk=h0.qcow2',
          {
            target: 'd1.img',
            colo: true,
            coloParams: { host: '10.0.0.2', port: 9101, exportName: 'd1' },
            activeDisk: 'a1.qcow2',
            hiddenDisk: 'h1.qcow2',
          },
        ],
      },
    ],
  };
}

export function issuesOf(doc: unknown): ConfigIssue[] {
  try {
    parseConfigText(stringify(doc), 'test.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error('expected the config to be rejected');
}

export function expectIssue(doc: unknown, path: string, fragment: string): void {
  const issues = issuesOf(doc);
  expect(
    issues.some((i) => i.path === path && i.message.includes(fragment)),
    `${path} / ${fragment} in ${JSON.stringify(issues, null, 1)}`,
  ).toBe(true);
}

export function edit(fn: (d: Doc) => void): Doc {
  const d = minimal();
  fn(d);
  return d;
}
