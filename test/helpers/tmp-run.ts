import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

const ROOT = join(process.cwd(), '.test-runs');

/** A fresh directory for one test, removed when the test passes and kept (for its logs) when it fails. */
export function tmpRun(name: string): string {
  mkdirSync(ROOT, { recursive: true });
  const dir = mkdtempSync(join(ROOT, `${name.replace(/[^a-z0-9-]/gi, '-')}-`));
  onTestFinished((ctx) => {
    if (ctx.task.result?.state !== 'pass') return;
    // Best effort: a process the test started may still be finishing a write while it stops.
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    } catch {
      // leave it: .test-runs/ is ignored by git
    }
  });
  return dir;
}
