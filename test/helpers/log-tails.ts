import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TAIL_LINES = 40;

/** A failed test on a CI machine leaves nothing behind: print each agent's transitions and warnings so the cause is in the CI log. */
export function printAgentLogTails(dir: string, nodes: readonly string[] = ['alpha', 'beta']): void {
  for (const node of nodes) {
    const path = join(dir, `agent-${node}.log`);
    if (!existsSync(path)) continue;
    const lines = readFileSync(path, 'utf8').split('\n').filter((l) => /"msg":"transition"|"level":(40|50|60)/.test(l));
    console.log(`--- ${path}: last ${TAIL_LINES} transitions and warnings ---\n${lines.slice(-TAIL_LINES).join('\n')}`);
  }
}
