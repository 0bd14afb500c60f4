import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { z } from 'zod';
import { startLocalNats, type LocalNatsServer } from '../../shared/local/index.js';

export interface TestNatsOptions {
  /** Fixed port (a restart on the same address). */
  port?: number;
  /** The server config text (a pair's account: see cli/demo/local-nats-auth.ts); none: anonymous clients welcome. */
  configText?: string;
  /** Serve the monitoring endpoint too (`/connz?auth=true`: who each connection logged in as). */
  monitor?: boolean;
}

/** A real nats-server with JetStream on a free loopback port, stopped by PID when the test ends. */
export async function startNatsServer(dir: string, o: TestNatsOptions | number = {}): Promise<LocalNatsServer> {
  const opts = typeof o === 'number' ? { port: o } : o;
  const nats = await startLocalNats({ dir: join(dir, 'nats'), ...opts });
  onTestFinished(() => nats.stop());
  return nats;
}

export interface NatsLogin {
  /** The client's connection name (agents: `colo-ft-agent-PAIR-NODE`). */
  name: string;
  /** The user it authenticated as ('' for none). */
  user: string;
}

/** The part of nats-server's `/connz` this reads (it has many more fields). */
const connzSchema = z.object({ connections: z.array(z.object({ name: z.string().optional(), authorized_user: z.string().optional() })).nullish() });

/** Who is connected to a local nats-server, and as which user (its `/connz?auth=true`). */
export async function natsLogins(monitorUrl: string): Promise<NatsLogin[]> {
  const res = await fetch(new URL('/connz?auth=true&limit=1024', monitorUrl));
  const body = connzSchema.parse(await res.json());
  return (body.connections ?? []).map((c) => ({ name: c.name ?? '', user: c.authorized_user ?? '' }));
}
