import { onTestFinished } from 'vitest';
import { feedVmStatusSchema, type FeedVmStatus } from '../../shared/nats/index.js';
import { waitFor } from './wait-for.js';

export interface SseClient {
  /** Every status received, in order, each checked against the feed schema. */
  received: FeedVmStatus[];
  /** Wait for a status matching `pred` (also among those already received). */
  waitFor(pred: (v: FeedVmStatus) => boolean, what: string, timeoutMs?: number): Promise<FeedVmStatus>;
  close(): void;
}

/** A plain SSE client over fetch: each `data:` line must be one status object; closed when the test ends. */
export async function openSse(url: string): Promise<SseClient> {
  const ac = new AbortController();
  onTestFinished(() => ac.abort());
  const res = await fetch(url, { signal: ac.signal, headers: { Accept: 'text/event-stream' } });
  if (!res.ok || !res.body) throw new Error(`SSE ${url}: HTTP ${res.status}`);
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) throw new Error(`SSE ${url}: content-type ${res.headers.get('content-type')}`);
  const received: FeedVmStatus[] = [];
  const errors: Error[] = [];
  void (async () => {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          if (line.startsWith('data: ')) received.push(feedVmStatusSchema.parse(JSON.parse(line.slice(6))));
        }
      }
    } catch (e) {
      if (!ac.signal.aborted) errors.push(e as Error);
    }
  })();
  return {
    received,
    waitFor: (pred, what, timeoutMs = 60_000) =>
      waitFor(
        () => {
          if (errors[0]) throw errors[0];
          return received.find(pred) ?? false;
        },
        { timeoutMs, what: `SSE: ${what}` },
      ),
    close: () => ac.abort(),
  };
}

/** The value of one Prometheus sample line, or undefined. */
export function metricValue(text: string, series: string | RegExp): number | undefined {
  const line = text.split('\n').find((l) => (typeof series === 'string' ? l.startsWith(`${series} `) : series.test(l)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
