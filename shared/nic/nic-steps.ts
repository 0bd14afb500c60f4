/**
 * A NIC's QMP sequences per role, as data (docs/COLO-FT.txt: "Secondary
 * Failover", "Primary Failover", "Primary/Secondary resume replication").
 * An unproxied NIC takes no part: every list is empty.
 */
import type { ReplicationPeer } from '../device/guest-device.js';
import type { QmpStep, YankInstance } from '../qmp/index.js';
import type { NicPlan } from './nic-plan.js';
import { primaryChardevs, primaryObjects } from './nic-proxy.js';

const objectDel = (id: string): QmpStep => ({ execute: 'object-del', arguments: { id }, ifRefused: 'alreadySo' });
const chardevRemove = (id: string): QmpStep => ({ execute: 'chardev-remove', arguments: { id }, ifRefused: 'alreadySo' });

/**
 * The secondary's proxy listens on its node's address, which the peer's
 * readiness reply already gives as its NBD host; the ports are in the
 * shared config, the same on both nodes. So no new field in the reply.
 */
export function secondaryProxyHost(peer: ReplicationPeer): string {
  return peer.nbd.host;
}

/**
 * Secondary, primary lost (after x-colo-lost-heartbeat): drop the
 * redirectors to and from the dead primary, then their chardevs, in
 * COLO-FT.txt's order. The filter-rewriter stays: the connections the guest
 * opened while a secondary carry its rewritten sequence numbers.
 */
export function secondaryTakeOverSteps(p: NicPlan): QmpStep[] {
  if (p.role !== 'secondary' || p.nic.proxy === null) return [];
  const s = p.ids.secondary;
  return [objectDel(s.redirectorOut), objectDel(s.redirectorIn), chardevRemove(s.compareChardev), chardevRemove(s.mirrorChardev)];
}

/** Primary, Protect: connect to the secondary's proxy, then add mirror, redirectors, iothread and colo-compare. */
export function primaryAttachSteps(p: NicPlan, peer: ReplicationPeer): QmpStep[] {
  if (p.nic.proxy === null) return [];
  const chardevs = primaryChardevs(p, secondaryProxyHost(peer)).map((c): QmpStep => ({ execute: 'chardev-add', arguments: { ...c } }));
  const objects = primaryObjects(p).map((o): QmpStep => ({ execute: 'object-add', arguments: { ...o } }));
  return [...chardevs, ...objects];
}

/**
 * Primary, secondary lost or a failed attempt: colo-compare before its
 * iothread, the filters before the chardevs they use (a chardev in use is
 * busy), each already gone being what we want. A rewriter this qemu holds
 * from its time as a secondary stays.
 */
export function primaryDropSteps(p: NicPlan): QmpStep[] {
  if (p.nic.proxy === null) return [];
  const c = p.ids.primary;
  return [
    objectDel(c.compare),
    objectDel(c.iothread),
    objectDel(c.mirror),
    objectDel(c.redirectorIn),
    objectDel(c.redirectorOut),
    chardevRemove(c.mirrorChardev),
    chardevRemove(c.secondaryInChardev),
    chardevRemove(c.primaryInClient),
    chardevRemove(c.primaryInServer),
    chardevRemove(c.compareOutClient),
    chardevRemove(c.compareOutServer),
  ];
}

/** Secondary lost: the primary's two chardevs to it, for yank to cut before the monitor could block on them. */
export function primaryYankInstances(p: NicPlan): YankInstance[] {
  if (p.nic.proxy === null) return [];
  const c = p.ids.primary;
  return [
    { type: 'chardev', id: c.mirrorChardev },
    { type: 'chardev', id: c.secondaryInChardev },
  ];
}
