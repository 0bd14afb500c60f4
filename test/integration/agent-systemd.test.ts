import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, openSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isPidAlive } from '../../shared/local/index.js';
import { CLI } from '../helpers/cli.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';
import { waitFor } from '../helpers/wait-for.js';

describe('the agent under systemd: readiness, watchdog after a health check, SIGHUP reload', () => {
  it('notifies READY, feeds the watchdog, and keeps the running config when a reload is invalid', async () => {
    const dir = tmpRun('agent-systemd');
    const pair = await setupPair(dir);
    await pair.startAgent('beta');
    // A stand-in for systemd-notify that records what the agent tells systemd.
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const notes = join(dir, 'notify.log');
    writeFileSync(join(bin, 'systemd-notify'), `#!/bin/sh\necho "$@" >> ${notes}\n`);
    chmodSync(join(bin, 'systemd-notify'), 0o755);
    const logFile = join(dir, 'agent-alpha.log');
    const out = openSync(logFile, 'a');
    // The agent runs with its own node's config (its own NATS login), as on its host.
    const alphaConfig = pair.configs.nodes.alpha!;
    const agent = spawn(process.execPath, [CLI, 'agent', '--config', alphaConfig, '--node', 'alpha'], {
      stdio: ['ignore', out, out],
      env: { ...process.env, NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '400000', PATH: `${bin}:${process.env.PATH}` },
    });
    onTestFinished(async () => {
      if (agent.exitCode === null) {
        agent.kill('SIGTERM');
        await waitFor(() => agent.exitCode !== null || agent.signalCode !== null, { timeoutMs: 15_000, what: 'agent exit' }).catch(() => agent.kill('SIGKILL'));
      }
    });
    await pair.waitProtected();
    const lines = await waitFor(() => {
      const l = existsSync(notes) ? readFileSync(notes, 'utf8').trim().split('\n') : [];
      return l.filter((x) => x === 'WATCHDOG=1').length >= 3 ? l : false;
    }, { timeoutMs: 10_000, what: 'READY then watchdog feeds' });
    expect(lines[0]).toMatch(/^--ready --status=agent alpha running 1 VM/);
    expect(lines.indexOf('WATCHDOG=1')).toBeGreaterThan(0);

    // An invalid new file is refused and the agent carries on with the old one.
    const good = readFileSync(alphaConfig, 'utf8');
    writeFileSync(alphaConfig, good.replace(/failover:|vms:/, 'surprise: 1\nvms:'));
    agent.kill('SIGHUP');
    await waitFor(() => /reload refused/.test(readFileSync(logFile, 'utf8')), { timeoutMs: 5_000, what: 'reload refused in the log' });
    expect(readFileSync(logFile, 'utf8')).toMatch(/surprise/);
    expect(isPidAlive(agent.pid!)).toBe(true);
    const s = await pair.status();
    expect(s.protected).toBe(true);
    expect(s.nodes[0]!.reachable).toBe(true);
    writeFileSync(alphaConfig, good);
    agent.kill('SIGHUP');
    await waitFor(() => /reload: configuration unchanged/.test(readFileSync(logFile, 'utf8')), { timeoutMs: 5_000, what: 'unchanged reload' });
  });
});
