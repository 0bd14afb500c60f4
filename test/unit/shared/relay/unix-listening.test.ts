import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isUnixListening } from '../../../../shared/relay/index.js';

const dir = mkdtempSync(join(tmpdir(), 'colo-ft-unix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('isUnixListening (the kernel table, not the file)', () => {
  it('is true only while a listener holds the path: not for a plain file, not for the file a dead listener left', async () => {
    const path = join(dir, 'relay.sock');
    writeFileSync(path, '');
    expect(isUnixListening(path)).toBe(false);
    rmSync(path);
    const server = createServer();
    await new Promise<void>((r) => server.listen(path, r));
    expect(isUnixListening(path)).toBe(true);
    expect(isUnixListening(`${path}.other`)).toBe(false);
    // The table of a given process's network namespace (here our own).
    expect(isUnixListening(path, process.pid)).toBe(true);
    await new Promise<void>((r) => server.close(() => r()));
    writeFileSync(path, '');
    expect(isUnixListening(path)).toBe(false);
  });
});
