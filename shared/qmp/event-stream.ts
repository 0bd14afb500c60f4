export interface EventSource<T> {
  subscribe(listener: (event: T) => void): () => void;
  /** Registers a hook run once when the source closes; returns its removal. */
  onClose(hook: () => void): () => void;
  readonly isOpen: boolean;
}

/**
 * Push events into a pull iterator. Subscribes at once, so nothing is lost between
 * creating the stream and the first `next()`. On close the consumer still gets what
 * was queued; `return()` (break) and abort drop it.
 */
export function eventStream<T>(source: EventSource<T>, signal?: AbortSignal): AsyncIterableIterator<T> {
  const queue: T[] = [];
  const waiters: Array<(result: IteratorResult<T>) => void> = [];
  let done = false;
  const unsubscribe = source.subscribe((event) => {
    const waiter = waiters.shift();
    if (waiter) waiter({ value: event, done: false });
    else queue.push(event);
  });
  const removeCloseHook = source.onClose(() => finish(false));
  const onAbort = (): void => finish(true);
  function finish(dropQueued: boolean): void {
    if (done) return;
    done = true;
    unsubscribe();
    removeCloseHook();
    signal?.removeEventListener('abort', onAbort);
    if (dropQueued) queue.length = 0;
    for (const waiter of waiters.splice(0)) waiter({ value: undefined, done: true });
  }
  signal?.addEventListener('abort', onAbort, { once: true });
  if (!source.isOpen || signal?.aborted) finish(true);

  const iterator: AsyncIterableIterator<T> = {
    next: () => {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift() as T, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => waiters.push(resolve));
    },
    return: () => {
      finish(true);
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
