export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  what: string;
}

/** Poll until `probe` returns a value that is not undefined/false; fail naming what was awaited and the last value seen. */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, o: WaitOptions): Promise<T> {
  const deadline = Date.now() + o.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const seen = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${o.timeoutMs} ms waiting for ${o.what} (last: ${seen})`);
    }
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 50));
  }
}
