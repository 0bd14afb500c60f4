import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { startLocalNats, type LocalNatsServer } from '../../shared/local/index.js';

/** A real nats-server with JetStream on a free loopback port, stopped by PID when the test ends. */
export async function startNatsServer(dir: string, port?: number): Promise<LocalNatsServer> {
  const nats = await startLocalNats({ dir: join(dir, 'nats'), port });
  onTestFinished(() => nats.stop());
  return nats;
}
