import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, openSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ColoError } from '../errors.js';
import { sleep } from '../sleep.js';
import { signalPid } from './pid.js';

export interface LocalNatsServer {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** The HTTP monitoring endpoint (`/connz?auth=true` names each connection's user), when asked for. */
  readonly monitorUrl?: string;
  /** Stop by PID (SIGTERM, then SIGKILL); resolves when it is gone. Idempotent. */
  stop(): Promise<void>;
  readonly exited: Promise<void>;
}

export interface LocalNatsOptions {
  dir: string;
  /** Fixed port (to restart on the same address); default: a free one picked by the server itself. */
  port?: number;
  binary?: string;
  extraArgs?: string[];
  /**
   * A config file's text (e.g. a pair's account with its users): written to
   * DIR/nats-server.conf (mode 0600, it holds passwords) and passed with `-c`.
   * The command line's address, port and JetStream flags still apply.
   */
  configText?: string;
  /** Also serve the monitoring endpoint on a free loopback port. */
  monitor?: boolean;
  startTimeoutMs?: number;
}

/**
 * A nats-server with JetStream on loopback, for the demo, tests and benches.
 * `-p -1` plus a ports file lets the server pick a free port with no race.
 */
export async function startLocalNats(o: LocalNatsOptions): Promise<LocalNatsServer> {
  mkdirSync(o.dir, { recursive: true });
  const portsDir = join(o.dir, 'ports');
  mkdirSync(portsDir, { recursive: true });
  const log = openSync(join(o.dir, 'nats-server.log'), 'a');
  const confArgs: string[] = [];
  if (o.configText !== undefined) {
    const confPath = join(o.dir, 'nats-server.conf');
    writeFileSync(confPath, o.configText, { mode: 0o600 });
    confArgs.push('-c', confPath);
  }
  const args = [
    ...confArgs,
    ...['-a', '127.0.0.1', '-p', String(o.port ?? -1), '-js', '-sd', join(o.dir, 'jetstream'), '-ports_file_dir', portsDir],
    ...(o.monitor ? ['-m', '-1'] : []),
    ...(o.extraArgs ?? []),
  ];
  const child = spawn(o.binary ?? 'nats-server', args, { stdio: ['ignore', log, log], detached: true });
  closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new ColoError('cannot start nats-server (is the nats-server package installed?)', 'fatal');
  let running = true;
  const exited = new Promise<void>((resolve) => {
    child.on('exit', () => {
      running = false;
      resolve();
    });
    child.on('error', () => {
      running = false;
      resolve();
    });
  });
  const stop = async () => {
    if (!running) return;
    if (!signalPid(pid, 'SIGTERM')) return;
    const timer = setTimeout(() => signalPid(pid, 'SIGKILL'), 3_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (o.startTimeoutMs ?? 10_000);
  for (;;) {
    const file = readdirSync(portsDir).find((f) => f.includes(`_${pid}.ports`));
    if (file) {
      try {
        const ports = JSON.parse(readFileSync(join(portsDir, file), 'utf8')) as { nats?: string[]; monitoring?: string[] };
        const url = ports.nats?.[0];
        const monitorUrl = ports.monitoring?.[0];
        if (url && (!o.monitor || monitorUrl)) {
          const port = Number(new URL(url).port);
          return { pid, port, url: `nats://127.0.0.1:${port}`, ...(o.monitor ? { monitorUrl } : {}), stop, exited };
        }
      } catch {
        // file half-written: read again
      }
    }
    if (!running || Date.now() > deadline) {
      await stop();
      throw new ColoError(`nats-server did not start; see ${join(o.dir, 'nats-server.log')}`, 'fatal');
    }
    await sleep(20);
  }
}
