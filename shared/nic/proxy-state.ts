import type { NicIds } from './nic-ids.js';

/**
 * Where a NIC's COLO proxy stands, read from the objects qemu holds:
 * `primary`: mirror, redirectors and colo-compare in the path;
 * `secondary`: the mirror in, the output to the primary's compare, the rewriter;
 * `rewriter`: only the filter-rewriter a survivor kept, the NIC talks straight to its netdev;
 * `none`: no proxy object; `partial`: some pieces but not a whole role (a setup or removal cut short).
 */
export type NicProxyState = 'primary' | 'secondary' | 'rewriter' | 'none' | 'partial';

export function primaryProxyObjects(ids: NicIds): string[] {
  const c = ids.primary;
  return [c.mirror, c.redirectorIn, c.redirectorOut, c.iothread, c.compare];
}

export function secondaryProxyObjects(ids: NicIds): string[] {
  const s = ids.secondary;
  return [s.redirectorIn, s.redirectorOut, s.rewriter];
}

/** The state, and the proxy objects of this NIC that qemu holds (sorted). Pure. */
export function nicProxyState(ids: NicIds, objectIds: ReadonlySet<string>): { state: NicProxyState; objects: string[] } {
  const primary = primaryProxyObjects(ids);
  const secondary = secondaryProxyObjects(ids);
  const objects = [...primary, ...secondary].filter((id) => objectIds.has(id)).sort();
  const has = (list: string[]): boolean => list.every((id) => objectIds.has(id));
  const hasNone = (list: string[]): boolean => list.every((id) => !objectIds.has(id));
  const rewriterOnly = [ids.secondary.redirectorIn, ids.secondary.redirectorOut];
  let state: NicProxyState = 'partial';
  if (objects.length === 0) state = 'none';
  else if (has(primary) && hasNone(rewriterOnly)) state = 'primary';
  else if (has(secondary) && hasNone(primary)) state = 'secondary';
  else if (objects.length === 1 && objects[0] === ids.secondary.rewriter) state = 'rewriter';
  return { state, objects };
}
