import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file and symlink below `root`, as sorted relative paths (for install tests). */
export function listTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listTree(root, p));
    else out.push(p);
  }
  return out.sort();
}
