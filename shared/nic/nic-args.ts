/**
 * A NIC's qemu argv per role: the netdev, the guest NIC (or a hub port), and
 * on a secondary the proxy pieces that must exist before the first packet
 * is mirrored: its listening chardevs and its filters. The primary's side is
 * added by QMP when it protects (nic-steps.ts).
 */
import { escapeQemuOptionValue as esc } from '../disk/index.js';
import { ConfigError } from '../errors.js';
import type { NicConfig, NicNetdev } from './nic-config.js';
import type { NicPlan } from './nic-plan.js';
import { secondaryFilters, secondaryListeners, type QomProps } from './nic-proxy.js';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function refuse(index: number, field: string, message: string): never {
  throw new ConfigError([{ path: `nics[${index}].${field}`, message }]);
}

function option(key: string, value: string | undefined): string {
  return value === undefined ? '' : `,${key}=${esc(value)}`;
}

function tapNetdev(id: string, index: number, tap: Extract<NicNetdev, { type: 'tap' }>): string {
  if (tap.bridge !== undefined) {
    if (tap.ifname !== undefined || tap.script !== undefined) refuse(index, 'netdev', 'a tap on a bridge takes neither ifname nor script');
    // qemu's bridge helper creates the tap and adds it to the bridge (its compiled-in path); vhost is never on here.
    return `bridge,id=${id},br=${esc(tap.bridge)}`;
  }
  // COLO's filters sit in qemu's net layer, which vhost-net bypasses: vhost stays off.
  const scripts = tap.script === undefined ? ',script=no,downscript=no' : `${option('script', tap.script)},downscript=no`;
  return `tap,id=${id},vhost=off${option('ifname', tap.ifname)}${scripts}`;
}

function socketNetdev(id: string, index: number, s: Extract<NicNetdev, { type: 'socket' }>): string {
  const modes = [s.listen, s.connect, s.udp].filter((m) => m !== undefined);
  if (modes.length !== 1) refuse(index, 'netdev', 'a socket netdev takes exactly one of listen, connect, udp');
  if ((s.udp === undefined) !== (s.localaddr === undefined)) refuse(index, 'netdev', 'udp and localaddr go together');
  return `socket,id=${id}${option('listen', s.listen)}${option('connect', s.connect)}${option('udp', s.udp)}${option('localaddr', s.localaddr)}`;
}

export function netdevOption(nic: NicConfig, index: number, id: string): string {
  const n = nic.netdev;
  if (n.type === 'tap') return tapNetdev(id, index, n);
  if (n.type === 'socket') return socketNetdev(id, index, n);
  return `user,id=${id}`;
}

/** `-object` text of a QOM object given as its object-add properties. */
export function objectOption(props: QomProps): string {
  const { 'qom-type': type, id, ...rest } = props;
  const values = Object.entries(rest).map(([k, v]) => `,${k}=${typeof v === 'boolean' ? (v ? 'on' : 'off') : esc(String(v))}`);
  return `${type},id=${id}${values.join('')}`;
}

function guestSide(p: NicPlan): string[] {
  const { nic, ids } = p;
  // With no guest NIC a netdev has no peer and drops inbound packets before any filter runs; a hub port is a peer.
  if (nic.model === 'none') return ['-netdev', `hubport,id=${ids.hubport},hubid=${p.index},netdev=${ids.netdev}`];
  if (!MAC_RE.test(nic.mac)) refuse(p.index, 'mac', `not a MAC address: ${nic.mac}`);
  return ['-device', `${nic.model},netdev=${ids.netdev},mac=${nic.mac},id=${ids.device}`];
}

function secondaryProxy(p: NicPlan): string[] {
  const listeners = secondaryListeners(p).flatMap((l) => [
    '-chardev',
    `socket,id=${l.id},host=${esc(l.host)},port=${l.port},server=on,wait=off`,
  ]);
  return [...listeners, ...secondaryFilters(p).flatMap((o) => ['-object', objectOption(o)])];
}

export function buildNicArgs(p: NicPlan): string[] {
  const proxy = p.role === 'secondary' && p.nic.proxy !== null ? secondaryProxy(p) : [];
  return ['-netdev', netdevOption(p.nic, p.index, p.ids.netdev), ...guestSide(p), ...proxy];
}
