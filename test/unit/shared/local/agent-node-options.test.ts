import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { agentNodeOptions } from '../../../../shared/local/index.js';

describe('agentNodeOptions', () => {
  it('reads the options the agent unit passes to node from deploy/agent-node.env', () => {
    const options = agentNodeOptions();
    expect(options).toContain('--max-semi-space-size=1');
    for (const o of options) expect(o).toMatch(/^--[a-z-]+(=\S+)?$/);
    // The unit takes them from that same file, unbraced so systemd splits them into words.
    const unit = readFileSync(new URL('../../../../deploy/systemd/colo-ft-agent@.service', import.meta.url), 'utf8');
    expect(unit).toMatch(/^EnvironmentFile=\/opt\/colo-ft\/deploy\/agent-node\.env$/m);
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \$COLO_FT_AGENT_NODE_OPTIONS \/opt\/colo-ft\/dist\/cli\/main\.js agent /m);
  });
});
