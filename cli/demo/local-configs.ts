import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalNatsAuth } from './local-nats-auth.js';
import { LOCAL_NODES, localPairConfig, type LocalPairSpec } from './pair-config.js';

/** The config files of a local pair: one per NATS login, as the hosts of a production pair have them. */
export interface LocalConfigPaths {
  /** DIR/pair.yaml: the operator login (status, drill, restore: what the CLI uses). */
  operator: string;
  /** DIR/dashboard.yaml: the read-only login (`serve`, `status --watch`); it cannot command an agent. */
  dashboard: string;
  /** DIR/NODE.yaml: that node's agent login; each agent is started with its own. */
  nodes: Record<string, string>;
}

export function localConfigPaths(dir: string): LocalConfigPaths {
  return {
    operator: join(dir, 'pair.yaml'),
    dashboard: join(dir, 'dashboard.yaml'),
    nodes: Object.fromEntries(LOCAL_NODES.map((n) => [n.name, join(dir, `${n.name}.yaml`)])),
  };
}

/** Write the pair's configs (mode 0600: each holds a password), identical but for the NATS login. */
export function writeLocalPairConfigs(spec: LocalPairSpec, auth: LocalNatsAuth): LocalConfigPaths {
  const paths = localConfigPaths(spec.dir);
  const write = (path: string, text: string) => {
    writeFileSync(path, text, { mode: 0o600 });
    // A reused directory may hold an older file with a wider mode.
    chmodSync(path, 0o600);
  };
  write(paths.operator, localPairConfig(spec, auth.operator));
  write(paths.dashboard, localPairConfig(spec, auth.dashboard));
  for (const n of LOCAL_NODES) write(paths.nodes[n.name]!, localPairConfig(spec, auth.agent(n.name)));
  return paths;
}
