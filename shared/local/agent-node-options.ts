import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// deploy/ sits at the top of the checkout and of an install (/opt/colo-ft/deploy), two folders above dist/shared/local.
const ENV_FILE = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '../../deploy/agent-node.env' : '../../../deploy/agent-node.env', import.meta.url));
const KEY = 'COLO_FT_AGENT_NODE_OPTIONS';

/** The node options of an agent process, from the file the agent unit reads too (deploy/agent-node.env): a local pair's agents run as a host's do. */
export function agentNodeOptions(file = ENV_FILE): string[] {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${KEY}=`));
  return line === undefined ? [] : line.slice(KEY.length + 1).trim().split(/\s+/).filter(Boolean);
}
