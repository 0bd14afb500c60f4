import { createServer, type Server, type Socket } from 'node:net';

export interface ReceivedCommand {
  id: string;
  /** `execute` or `exec-oob`. */
  verb: 'execute' | 'exec-oob';
  command: string;
  arguments: unknown;
  socket: Socket;
}

export interface FakeQmpOptions {
  capabilities?: string[];
  /** false: behave like an occupied monitor and never greet. */
  greet?: boolean;
  /** Lines written before the greeting (qemu can emit an event on a fresh connection first). */
  beforeGreeting?: unknown[];
}

/** A minimal QMP peer: greets, answers qmp_capabilities itself and queues every other command for the test. */
export class FakeQmpServer {
  readonly sockets = new Set<Socket>();
  readonly capabilitiesArgs: unknown[] = [];
  readonly #server: Server;
  readonly #queue: ReceivedCommand[] = [];
  readonly #waiters: Array<(c: ReceivedCommand) => void> = [];

  constructor(
    readonly socketPath: string,
    readonly options: FakeQmpOptions = {},
  ) {
    this.#server = createServer((socket) => this.#onConnection(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.socketPath, () => resolve());
    });
  }

  /** Next command other than qmp_capabilities, in arrival order. */
  nextCommand(timeoutMs = 1000): Promise<ReceivedCommand> {
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake qmp: no command arrived')), timeoutMs);
      this.#waiters.push((c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
  }

  get queuedCount(): number {
    return this.#queue.length;
  }

  /** Writes raw text (or bytes) to every client, exactly as given. */
  write(data: string | Buffer): void {
    for (const s of this.sockets) s.write(data);
  }

  send(...messages: unknown[]): void {
    this.write(messages.map((m) => `${JSON.stringify(m)}\r\n`).join(''));
  }

  reply(cmd: ReceivedCommand, value: unknown): void {
    this.send({ return: value, id: cmd.id });
  }

  event(name: string, data?: Record<string, unknown>): void {
    this.send({ event: name, data, timestamp: { seconds: 1700000000, microseconds: 42 } });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    for (const m of this.options.beforeGreeting ?? []) socket.write(`${JSON.stringify(m)}\r\n`);
    if (this.options.greet !== false) {
      const greeting = {
        QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 }, package: 'Debian 1:7.2' }, capabilities: this.options.capabilities ?? [] },
      };
      socket.write(`${JSON.stringify(greeting)}\r\n`);
    }
    let buffer = '';
    socket.on('data', (chunk: string) => {
      const lines = (buffer + chunk).split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) this.#onLine(socket, line);
    });
  }

  #onLine(socket: Socket, line: string): void {
    const msg = JSON.parse(line) as Record<string, unknown>;
    const verb = 'exec-oob' in msg ? 'exec-oob' : 'execute';
    const cmd: ReceivedCommand = {
      id: msg.id as string,
      verb,
      command: msg[verb] as string,
      arguments: msg.arguments,
      socket,
    };
    if (cmd.command === 'qmp_capabilities') {
      this.capabilitiesArgs.push(cmd.arguments);
      socket.write(`${JSON.stringify({ return: {}, id: cmd.id })}\r\n`);
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter(cmd);
    else this.#queue.push(cmd);
  }
}
