import { phaseOf, type TagChange, type TransitionRecord } from '../../state-machines/index.js';

interface Snapshot {
  value: unknown;
  tags: ReadonlySet<string>;
  context: { reason: string };
}

interface Subscribable<S> {
  getSnapshot(): S;
  subscribe(observer: { next: (s: S) => void; error: (e: unknown) => void }): { unsubscribe(): void };
}

/**
 * Calls back once per change of phase of a machine, with the reason the machine gives and how its tags changed: the one place transitions are seen.
 * `fromCurrent`: the actor already runs (a child its parent started): its present state counts as the first transition.
 * `phaseDepth`: how many levels of the state value make a phase (FAILOVER_PHASE_DEPTH for the failover machine).
 */
export function followTransitions<S extends Snapshot>(
  actor: Subscribable<S>,
  onTransition: (record: TransitionRecord, snap: S, tags: TagChange) => void,
  onCrash: (e: unknown) => void,
  o: { fromCurrent?: boolean; phaseDepth?: number } = {},
): { unsubscribe(): void } {
  let previous: string | null = null;
  let previousTags: ReadonlySet<string> = new Set();
  const next = (snap: S): void => {
    const to = phaseOf(snap.value, o.phaseDepth);
    if (to === previous) return;
    const record = { at: Date.now(), from: previous ?? 'none', to, reason: snap.context.reason };
    const tags = { before: previousTags, after: new Set(snap.tags) };
    previous = to;
    previousTags = tags.after;
    onTransition(record, snap, tags);
  };
  const sub = actor.subscribe({ next, error: onCrash });
  if (o.fromCurrent) next(actor.getSnapshot());
  return sub;
}
