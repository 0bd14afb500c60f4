import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig, parseConfigText } from '../../../../shared/config/index.js';
import { ConfigError } from '../../../../shared/errors.js';
import { edit, expectIssue, minimal } from './config-fixture.js';

function refusal(text: string): string {
  try {
    parseConfigText(text, 'hostile.yaml');
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).message;
  }
  throw new Error('expected a config error');
}

describe('hostile config files are config errors, with short and printable messages', () => {
  it('a YAML alias bomb', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`)].join('\n');
    const message = refusal(bomb);
    expect(message).toMatch(/could not be expanded: .*aliases may be used at most 100 times/);
  });

  it('binary garbage: named as such, with a short escaped excerpt, not the bytes', () => {
    const garbage = Buffer.from(Array.from({ length: 20_000 }, (_, i) => (i * 7919) % 256)).toString('latin1');
    const message = refusal(garbage);
    expect(message).toMatch(/not a YAML text file: binary data at character \d+/);
    expect(message.length).toBeLessThan(400);
    // eslint-disable-next-line no-control-regex
    expect(message).not.toMatch(/[\u0000-\u0008\u000e-\u001f]/);
  });

  it('a file over 1 MiB is refused before it is parsed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'colo-ft-config-'));
    const file = join(dir, 'big.yaml');
    writeFileSync(file, `${stringify(minimal())}\n# ${'x'.repeat(1024 * 1024)}\n`);
    expect(() => loadConfig(file)).toThrow(/at most 1048576 bytes/);
    expect(() => parseConfigText('#'.repeat(1024 * 1024 + 1))).toThrow(ConfigError);
  });

  it('a NUL byte in a path or any other string', () => {
    expectIssue(edit((d) => (d.nodes[0].imageDir = '/img/a\0/x')), 'nodes[0].imageDir', 'must not contain a NUL byte');
    expectIssue(edit((d) => (d.vms[0].disks[1].target = 'd1\0.img')), 'vms[0].disks[1].target', 'NUL byte');
  });

  it('malformed NATS URLs and node addresses', () => {
    for (const url of ['nats://127.0.0.1:0', 'nats://h:99999', 'http://h:4222', 'nats:/h', 'nats://-5:4222', '']) {
      expectIssue(edit((d) => (d.nats.servers = [url])), 'nats.servers[0]', 'must be a NATS server URL');
    }
    for (const address of ['-5', 'a..b', 'host-', '']) expectIssue(edit((d) => (d.nodes[0].address = address)), 'nodes[0].address', 'must be a host name or IPv4 address');
    expect(() => parseConfigText(stringify(edit((d) => (d.nats.servers = ['tls://user:pass@nats.example.com:4443', '127.0.0.1:4222']))))).not.toThrow();
  });

  // Thousands of full config parses: seconds on a loaded 2-core machine, so not the 5 s default timeout.
  it('fuzz: thousands of mutated configs through the function the CLI uses; only config errors, never a crash', () => {
    const base = stringify(minimal());
    let seed = 12345;
    const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const pieces = ['&a [1,2]', '*a', '\0', '\\0', '"', "'", ':', '- ', '{', '}', '[', ']', '\n  ', '\t', '#', '!!binary x', '!!js/function f', '%YAML 1.2\n---\n', '<<: *a', '~', '1e999', '-5', 'nats://x:0', '\uFFFD', '\u0007'];
    let crashes = 0;
    let accepted = 0;
    for (let i = 0; i < 3_000; i++) {
      let text = base;
      for (let m = 0; m <= rand(4); m++) {
        const at = rand(text.length);
        const op = rand(3);
        if (op === 0) text = text.slice(0, at) + pieces[rand(pieces.length)] + text.slice(at);
        else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rand(8));
        else text = text.slice(0, at) + String.fromCharCode(rand(256)) + text.slice(at + 1);
      }
      try {
        parseConfigText(text, 'fuzz.yaml');
        accepted++;
      } catch (e) {
        if (!(e instanceof ConfigError)) {
          crashes++;
          if (crashes === 1) console.error('crash on', JSON.stringify(text), e);
        } else expect((e as ConfigError).message.length).toBeLessThan(20_000);
      }
    }
    expect(crashes).toBe(0);
    expect(accepted).toBeGreaterThan(0);
  }, 60_000);
});
