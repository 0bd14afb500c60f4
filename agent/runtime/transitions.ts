import { phaseOf, type TransitionRecord } from '../../state-machines/index.js';

interface Snapshot {
  value: unknown;
  context: { reason: string };
}

interface Subscribable<S> {
  getSnapshot(): S;
  subscribe(observer: { next: (s: S) => void; error: (e: unknown) => void }): { unsubscribe(): void };
}

/**
 * Calls back once per state change of a machine, with the reason the machine gives: the one place transitions are seen.
 * `fromCurrent`: the actor already runs (a child its parent started): its present state counts as the first transition.
 */
export function followTransitions<S extends Snapshot>(
  actor: Subscribable<S>,
  onTransition: (record: TransitionRecord, snap: S) => void,
  onCrash: (e: unknown) => void,
  o: { fromCurrent?: boolean } = {},
): { unsubscribe(): void } {
  let previous: string | null = null;
  const next = (snap: S): void => {
    const to = phaseOf(snap.value);
    if (to === previous) return;
    const record = { at: Date.now(), from: previous ?? 'none', to, reason: snap.context.reason };
    previous = to;
    onTransition(record, snap);
  };
  const sub = actor.subscribe({ next, error: onCrash });
  if (o.fromCurrent) next(actor.getSnapshot());
  return sub;
}
