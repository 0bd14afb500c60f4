import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

type Rule = (action: { id: string; lookup(k: string): string | undefined }, subject: { user: string }) => string | undefined;

/** The shipped rule file, run as polkitd would run it, with its one rule captured. */
function loadRule(): Rule {
  const rules: Rule[] = [];
  const polkit = { Result: { YES: 'yes', NO: 'no' }, addRule: (r: Rule) => rules.push(r) };
  runInNewContext(readFileSync(join(process.cwd(), 'deploy/polkit/50-colo-ft.rules'), 'utf8'), { polkit });
  expect(rules).toHaveLength(1);
  return rules[0]!;
}

const manage = (details: Record<string, string> = {}) => ({ id: 'org.freedesktop.systemd1.manage-units', lookup: (k: string) => details[k] });

describe('the polkit rule shipped in deploy/', () => {
  const rule = loadRule();

  it('grants colo-ft the transient scope it creates for each qemu and relay (no unit name is passed for it)', () => {
    expect(rule(manage(), { user: 'colo-ft' })).toBe('yes');
  });

  it('never grants colo-ft an operation on a named unit, nor anything to another user or another action', () => {
    expect(rule(manage({ unit: 'sshd.service', verb: 'stop' }), { user: 'colo-ft' })).toBeUndefined();
    expect(rule(manage({ unit: 'colo-ft-agent@demo.service', verb: 'restart' }), { user: 'colo-ft' })).toBeUndefined();
    expect(rule(manage(), { user: 'nobody' })).toBeUndefined();
    expect(rule({ id: 'org.freedesktop.systemd1.manage-unit-files', lookup: () => undefined }, { user: 'colo-ft' })).toBeUndefined();
  });
});
