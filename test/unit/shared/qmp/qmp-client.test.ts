import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbortedError, QmpCommandError, QmpConnectionError, QmpProtocolError, QmpTimeoutError } from '../../../../shared/errors.js';
import { createLogger, silentLogger } from '../../../../shared/log.js';
import { connectQmp, type QmpClient, type QmpConnectOptions, type QmpEvent } from '../../../../shared/qmp/index.js';
import { FakeQmpServer, type FakeQmpOptions } from './fake-qmp-server.js';

let dir: string;
let socketPath: string;
let servers: FakeQmpServer[];
let clients: QmpClient[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'colo-ft-qmp-'));
  socketPath = join(dir, 'qmp.sock');
  servers = [];
  clients = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(options?: FakeQmpOptions): Promise<FakeQmpServer> {
  const server = new FakeQmpServer(socketPath, options);
  servers.push(server);
  await server.listen();
  return server;
}

async function connect(options: Partial<QmpConnectOptions> = {}): Promise<QmpClient> {
  const client = await connectQmp({ socketPath, log: silentLogger(), ...options });
  clients.push(client);
  return client;
}

async function start(server?: FakeQmpOptions, options?: Partial<QmpConnectOptions>) {
  return { server: await startServer(server), client: await connect(options) };
}

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function track<T>(p: Promise<T>): { settled: boolean } {
  const state = { settled: false };
  p.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

describe('connectQmp handshake', () => {
  it('reads the greeting and sends qmp_capabilities without oob by default', async () => {
    const { server, client } = await start({ capabilities: ['oob'] });
    expect(client.isOpen).toBe(true);
    expect(server.capabilitiesArgs).toEqual([undefined]);
  });

  it('enables oob when requested and offered, and executeOob sends exec-oob', async () => {
    const { server, client } = await start({ capabilities: ['oob'] }, { oob: true });
    expect(server.capabilitiesArgs).toEqual([{ enable: ['oob'] }]);
    const reply = client.executeOob('yank', { instances: [{ type: 'migration' }] });
    const cmd = await server.nextCommand();
    expect(cmd).toMatchObject({ verb: 'exec-oob', command: 'yank', arguments: { instances: [{ type: 'migration' }] } });
    server.reply(cmd, {});
    await expect(reply).resolves.toEqual({});
  });

  it('does not ask for oob when the greeting does not offer it', async () => {
    const { server } = await start({ capabilities: [] }, { oob: true });
    expect(server.capabilitiesArgs).toEqual([undefined]);
  });

  it('retries while the socket does not exist yet', async () => {
    const connecting = connect({ connectTimeoutMs: 2000 });
    const started = performance.now();
    setTimeout(() => void startServer(), 100);
    const client = await connecting;
    expect(client.isOpen).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('gives up after connectTimeoutMs when the socket never appears', async () => {
    const started = performance.now();
    const err = await connect({ connectTimeoutMs: 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectionError);
    expect((err as Error & { cause: NodeJS.ErrnoException }).cause.code).toBe('ENOENT');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('skips an event qemu writes before its greeting (MIGRATION setup on an -incoming qemu), then negotiates', async () => {
    const event = { timestamp: { seconds: 1796224266, microseconds: 163781 }, event: 'MIGRATION', data: { status: 'setup' } };
    const { server, client } = await start({ beforeGreeting: [event] });
    expect(client.isOpen).toBe(true);
    expect(server.capabilitiesArgs).toEqual([undefined]);
  });

  it('still refuses a first line that is neither an event nor the greeting', async () => {
    await startServer({ beforeGreeting: [{ return: {} }] });
    const err = await connect({ timeoutMs: 500 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/QMP handshake .* failed/);
    expect(String((err as { cause?: Error }).cause?.message)).toMatch(/expected a QMP greeting/);
  });

  it('fails when no greeting arrives (monitor owned by another client)', async () => {
    await startServer({ greet: false });
    await expect(connect({ timeoutMs: 100 })).rejects.toThrow(/no QMP greeting/);
  });

  it('aborting the signal stops the connect retries with AbortedError', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await expect(connect({ signal: ac.signal })).rejects.toBeInstanceOf(AbortedError);
  });
});

describe('commands and replies', () => {
  it('matches replies to commands by id when they come back out of order', async () => {
    const { server, client } = await start();
    const calls = [client.execute('a'), client.execute('b', { x: 1 }), client.execute('c')];
    const [a, b, c] = [await server.nextCommand(), await server.nextCommand(), await server.nextCommand()];
    expect([a.command, b.command, c.command]).toEqual(['a', 'b', 'c']);
    expect(b.arguments).toEqual({ x: 1 });
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    server.reply(c, 'C');
    server.reply(a, 'A');
    server.reply(b, 'B');
    await expect(Promise.all(calls)).resolves.toEqual(['A', 'B', 'C']);
  });

  it('delivers events that arrive before the reply, despite failing listeners', async () => {
    const { server, client } = await start();
    const seen: QmpEvent[] = [];
    client.onEvent(() => {
      throw new Error('listener bug');
    });
    client.onEvent(async () => Promise.reject(new Error('async listener bug')));
    const unsubscribe = client.onEvent((e) => seen.push(e));
    const stop = client.execute('stop');
    const cmd = await server.nextCommand();
    server.event('STOP');
    server.event('BLOCK_JOB_READY', { device: 'drive0' });
    server.reply(cmd, {});
    await stop;
    expect(seen.map((e) => [e.event, e.data])).toEqual([['STOP', {}], ['BLOCK_JOB_READY', { device: 'drive0' }]]);
    expect(seen[0]?.timestamp).toEqual({ seconds: 1700000000, microseconds: 42 });
    expect(seen[0]?.receivedAtMs).toBeLessThanOrEqual(performance.now());

    unsubscribe();
    const cont = client.execute('cont');
    const cmd2 = await server.nextCommand();
    server.event('RESUME');
    server.reply(cmd2, {});
    await cont;
    expect(seen).toHaveLength(2);
  });

  it('reassembles a reply split into chunks, even inside a multi-byte character', async () => {
    const { server, client } = await start();
    const call = client.execute('echo');
    const state = track(call);
    const cmd = await server.nextCommand();
    const bytes = Buffer.from(`${JSON.stringify({ return: 'héllo ✓', id: cmd.id })}\r\n`);
    const cut = bytes.indexOf(Buffer.from('✓')) + 1;
    server.write(bytes.subarray(0, 10));
    await tick(10);
    server.write(bytes.subarray(10, cut));
    await tick(10);
    expect(state.settled).toBe(false);
    server.write(bytes.subarray(cut));
    await expect(call).resolves.toBe('héllo ✓');
  });

  it('parses an event written one byte at a time', async () => {
    const { server, client } = await start();
    const events = client.events()[Symbol.asyncIterator]();
    const line = Buffer.from(`${JSON.stringify({ event: 'RESET', data: { guest: true }, timestamp: { seconds: 1, microseconds: 2 } })}\r\n`);
    for (const byte of line) {
      server.write(Buffer.from([byte]));
      await new Promise(setImmediate);
    }
    const { value } = await events.next();
    expect(value).toMatchObject({ event: 'RESET', data: { guest: true }, timestamp: { seconds: 1, microseconds: 2 } });
  });

  it('handles several objects in one chunk', async () => {
    const { server, client } = await start();
    const seen: string[] = [];
    client.onEvent((e) => seen.push(e.event));
    const one = client.execute('one');
    const two = client.execute('two');
    const [c1, c2] = [await server.nextCommand(), await server.nextCommand()];
    server.send({ event: 'E1' }, { return: 2, id: c2.id }, { return: 1, id: c1.id }, { event: 'E2' });
    await expect(Promise.all([one, two])).resolves.toEqual([1, 2]);
    await vi.waitFor(() => expect(seen).toEqual(['E1', 'E2']));
  });

  it('turns an error reply into QmpCommandError', async () => {
    const { server, client } = await start();
    const call = client.execute('device_del', { id: 'x' });
    const cmd = await server.nextCommand();
    server.send({ error: { class: 'DeviceNotFound', desc: "Device 'x' not found" }, id: cmd.id });
    const err = await call.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({ command: 'device_del', errorClass: 'DeviceNotFound', desc: "Device 'x' not found", recovery: 'local' });
  });

  it('times out one call with QmpTimeoutError, ignores its late reply, and keeps working', async () => {
    const { server, client } = await start(undefined, { timeoutMs: 60 });
    const slow = client.execute('slow');
    const cmd = await server.nextCommand();
    await expect(slow).rejects.toMatchObject({ name: 'QmpTimeoutError', command: 'slow', timeoutMs: 60 });
    await expect(client.execute('slower', undefined, { timeoutMs: 30 })).rejects.toBeInstanceOf(QmpTimeoutError);
    server.reply(cmd, 'late');
    const next = client.execute('query-status');
    const cmd2 = await server.nextCommand(); // 'slower'
    const cmd3 = await server.nextCommand();
    server.reply(cmd3, 'fresh');
    server.reply(cmd2, 'late too');
    await expect(next).resolves.toBe('fresh');
    expect(client.isOpen).toBe(true);
  });

  it('rejects with AbortedError on abort, sends nothing when already aborted, and keeps working', async () => {
    const { server, client } = await start();
    const ac = new AbortController();
    const call = client.execute('migrate', { uri: 'tcp:x' }, { signal: ac.signal });
    const cmd = await server.nextCommand();
    ac.abort();
    await expect(call).rejects.toBeInstanceOf(AbortedError);
    await expect(client.execute('never', undefined, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortedError);
    server.reply(cmd, 'late');
    const after = client.execute('after');
    const cmd2 = await server.nextCommand();
    expect(cmd2.command).toBe('after');
    server.reply(cmd2, 'ok');
    await expect(after).resolves.toBe('ok');
  });

  it('hmp sends human-monitor-command and returns its output', async () => {
    const { server, client } = await start();
    const out = client.hmp('info status');
    const cmd = await server.nextCommand();
    expect(cmd).toMatchObject({ command: 'human-monitor-command', arguments: { 'command-line': 'info status' } });
    server.reply(cmd, 'VM status: running\r\n');
    await expect(out).resolves.toBe('VM status: running\r\n');
    const bad = client.hmp('info status');
    server.reply(await server.nextCommand(), { not: 'a string' });
    await expect(bad).rejects.toBeInstanceOf(QmpProtocolError);
  });

  it('skips a line that is not JSON with a warning', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const log = createLogger('test', { level: 'warn', destination: { write: (s: string) => void lines.push(JSON.parse(s)) } });
    const { server, client } = await start(undefined, { log });
    const call = client.execute('query-status');
    const cmd = await server.nextCommand();
    server.write('this is not json\r\n{"half": \r\n');
    server.reply(cmd, { running: true });
    await expect(call).resolves.toEqual({ running: true });
    expect(lines.filter((l) => l.level === 40 && /not a JSON object/.test(l.msg))).toHaveLength(2);
  });
});

describe('connection lifecycle', () => {
  it('rejects pending calls with QmpConnectionError when the server closes the socket', async () => {
    const { server, client } = await start();
    const call = client.execute('query-status');
    const cmd = await server.nextCommand();
    cmd.socket.end();
    await expect(call).rejects.toBeInstanceOf(QmpConnectionError);
    await client.closed;
    expect(client.isOpen).toBe(false);
    await expect(client.execute('query-status')).rejects.toBeInstanceOf(QmpConnectionError);
  });

  it('survives ECONNRESET when the peer dies with unread data', async () => {
    const { server, client } = await start();
    const first = client.execute('first');
    const cmd = await server.nextCommand();
    // Written synchronously into the server's receive queue; destroying with it unread makes the kernel send a reset.
    const second = client.execute('second');
    cmd.socket.destroy();
    const err = await first.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectionError);
    expect((err as Error & { cause?: NodeJS.ErrnoException }).cause?.code).toBe('ECONNRESET');
    await expect(second).rejects.toBeInstanceOf(QmpConnectionError);
    await client.closed;
    expect(server.queuedCount).toBe(0);
  });

  it('events() yields events and ends when the connection closes', async () => {
    const { server, client } = await start();
    const seen: string[] = [];
    const iterable = client.events();
    server.event('A');
    server.event('B');
    const consumer = (async () => {
      for await (const e of iterable) seen.push(e.event);
    })();
    await vi.waitFor(() => expect(seen).toEqual(['A', 'B']));
    for (const s of server.sockets) s.destroy();
    await consumer;
    await client.closed;
  });

  it('events() stops on break and on abort', async () => {
    const { server, client } = await start();
    const iterator = client.events()[Symbol.asyncIterator]();
    server.event('A');
    server.event('B');
    for await (const e of { [Symbol.asyncIterator]: () => iterator }) {
      expect(e.event).toBe('A');
      break;
    }
    await expect(iterator.next()).resolves.toEqual({ value: undefined, done: true });

    const ac = new AbortController();
    const aborted = client.events(ac.signal)[Symbol.asyncIterator]();
    const pending = aborted.next();
    ac.abort();
    await expect(pending).resolves.toEqual({ value: undefined, done: true });
    expect(client.isOpen).toBe(true);
  });

  it('close() is idempotent, rejects pending calls and ends iterators', async () => {
    const { server, client } = await start();
    const call = client.execute('query-status');
    await server.nextCommand();
    const next = client.events()[Symbol.asyncIterator]().next();
    const rejected = expect(call).rejects.toBeInstanceOf(QmpConnectionError);
    await client.close();
    await client.close();
    await rejected;
    await expect(next).resolves.toEqual({ value: undefined, done: true });
    await client.closed;
    expect(client.isOpen).toBe(false);
  });
});
