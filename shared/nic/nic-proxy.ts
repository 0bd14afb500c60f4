/**
 * The COLO proxy's pieces per role, as data (docs/COLO-FT.txt, colo-proxy):
 * each object's properties serve as both `-object` on the command line and
 * the arguments of `object-add`.
 *
 * The sockets run the other way round from the upstream example: the
 * secondary listens and the primary connects. The secondary's incoming qemu
 * starts first, so its endpoints exist when the primary protects, as its
 * NBD export does; the primary, which may have run alone for a long time,
 * adds its side only then, and a secondary not listening fails that attach
 * at once instead of leaving a server waiting.
 */
import type { NicPlan } from './nic-plan.js';
import { internalSocketName } from './nic-plan.js';

export type QomProps = { 'qom-type': string; id: string } & Record<string, string | number | boolean>;

export interface ChardevAdd {
  id: string;
  backend: { type: 'socket'; data: Record<string, unknown> };
}

/** The secondary's filters, in their order on the netdev: the mirror in, the output out, then the rewriter. */
export function secondaryFilters(p: NicPlan): QomProps[] {
  const { netdev, secondary: s } = p.ids;
  const vnet = { vnet_hdr_support: p.vnetHdr };
  return [
    { 'qom-type': 'filter-redirector', id: s.redirectorIn, netdev, queue: 'tx', indev: s.mirrorChardev, ...vnet },
    { 'qom-type': 'filter-redirector', id: s.redirectorOut, netdev, queue: 'rx', outdev: s.compareChardev, ...vnet },
    { 'qom-type': 'filter-rewriter', id: s.rewriter, netdev, queue: 'all', ...vnet },
  ];
}

/** The secondary's listening chardevs: id and port. */
export function secondaryListeners(p: NicPlan): Array<{ id: string; host: string; port: number }> {
  if (!p.nic.proxy) return [];
  const { mirrorChardev, compareChardev } = p.ids.secondary;
  return [
    { id: mirrorChardev, host: p.listenHost, port: p.nic.proxy.mirrorPort },
    { id: compareChardev, host: p.listenHost, port: p.nic.proxy.comparePort },
  ];
}

function inetClient(id: string, host: string, port: number): ChardevAdd {
  return { id, backend: { type: 'socket', data: { addr: { type: 'inet', data: { host, port: String(port) } }, server: false } } };
}

function unixAbstract(id: string, name: string, server: boolean): ChardevAdd {
  const data = { addr: { type: 'unix', data: { path: name, abstract: true } }, server, ...(server ? { wait: false } : {}) };
  return { id, backend: { type: 'socket', data } };
}

/** The primary's chardevs, each server before its client (the client connects on creation). */
export function primaryChardevs(p: NicPlan, secondaryHost: string): ChardevAdd[] {
  if (!p.nic.proxy) return [];
  const c = p.ids.primary;
  const primaryIn = internalSocketName(p.nic, 'primary-in');
  const compareOut = internalSocketName(p.nic, 'compare-out');
  return [
    inetClient(c.mirrorChardev, secondaryHost, p.nic.proxy.mirrorPort),
    inetClient(c.secondaryInChardev, secondaryHost, p.nic.proxy.comparePort),
    unixAbstract(c.primaryInServer, primaryIn, true),
    unixAbstract(c.primaryInClient, primaryIn, false),
    unixAbstract(c.compareOutServer, compareOut, true),
    unixAbstract(c.compareOutClient, compareOut, false),
  ];
}

/**
 * The primary's objects in COLO-FT.txt's order: filter-mirror, the two
 * redirectors, the iothread, colo-compare. On a qemu that holds the
 * secondary's rewriter, each filter is inserted before it. colo-compare runs
 * in its own iothread; its `notify_dev` is only for Xen's COLO frame and is
 * not set.
 */
export function primaryObjects(p: NicPlan): QomProps[] {
  const { netdev, primary: c } = p.ids;
  const vnet = { vnet_hdr_support: p.vnetHdr };
  const place: Record<string, string> = p.holdsRewriter ? { insert: 'before', position: `id=${p.ids.secondary.rewriter}` } : {};
  return [
    { 'qom-type': 'filter-mirror', id: c.mirror, netdev, queue: 'tx', outdev: c.mirrorChardev, ...vnet, ...place },
    { 'qom-type': 'filter-redirector', id: c.redirectorIn, netdev, queue: 'rx', indev: c.compareOutServer, ...vnet, ...place },
    { 'qom-type': 'filter-redirector', id: c.redirectorOut, netdev, queue: 'rx', outdev: c.primaryInServer, ...vnet, ...place },
    { 'qom-type': 'iothread', id: c.iothread },
    {
      'qom-type': 'colo-compare',
      id: c.compare,
      primary_in: c.primaryInClient,
      secondary_in: c.secondaryInChardev,
      outdev: c.compareOutClient,
      iothread: c.iothread,
      ...vnet,
    },
  ];
}
