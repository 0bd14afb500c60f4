import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

const ROOT = join(process.cwd(), '.test-runs');

/** A fresh directory for one test, removed when the test passes and kept (for its logs) when it fails. */
export function tmpRun(name: string): string {
  mkdirSync(ROOT, { recursive: true });
  const dir = mkdtempSync(join(ROOT, `${name.replace(/[^a-z0-9-]/gi, '-')}-`));
  onTestFinished((ctx) => {
    if (ctx.task.result?.state === 'pass') rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
