import type { NicConfig } from './nic-config.js';
import { nicIds, type NicIds } from './nic-ids.js';

/** One NIC as this node runs it. */
export interface NicPlan {
  index: number;
  ids: NicIds;
  nic: NicConfig;
  /** The role this qemu's argv was built for: a secondary's argv holds its redirectors and filter-rewriter. */
  role: 'primary' | 'secondary';
  /**
   * This qemu holds the filter-rewriter rew{i}: it was started as the
   * secondary and took over. The primary's filters then go before it on the
   * netdev (COLO-FT.txt "Secondary resume replication"), so that traffic
   * passes mirror and compare before the rewriter.
   */
  holdsRewriter: boolean;
  /** Where the secondary's proxy chardevs listen. */
  listenHost: string;
  /** Whether packets on the netdev may carry a virtio-net header: every filter and colo-compare is told the same. */
  vnetHdr: boolean;
}

/**
 * Every filter and colo-compare on both nodes gets `vnet_hdr_support` set
 * explicitly, on for a tap netdev and off otherwise. A tap opens with a vnet
 * header whenever the kernel has it (with a bridge helper it cannot even be
 * turned off) and virtio-net then puts one before each packet; with
 * vnet_hdr_support the header's length travels with each packet over the
 * chardevs (0 when the NIC uses none, as e1000 does), so colo-compare parses
 * the frames right for either model. Being explicit keeps both nodes on the
 * same framing even when their qemu builds default differently. socket and
 * user netdevs never carry a vnet header.
 */
export function usesVnetHdr(nic: NicConfig): boolean {
  return nic.netdev.type === 'tap';
}

export function planNic(
  nic: NicConfig,
  index: number,
  o: { role: 'primary' | 'secondary'; holdsRewriter: boolean; listenHost: string },
): NicPlan {
  return {
    index,
    ids: nicIds(index),
    nic,
    role: o.role,
    holdsRewriter: o.holdsRewriter && isProxiedNic(nic),
    listenHost: o.listenHost,
    vnetHdr: usesVnetHdr(nic),
  };
}

/** Whether COLO's network proxy covers the NIC; an unproxied one takes no part in protection. */
export function isProxiedNic(nic: NicConfig): boolean {
  return nic.proxy !== null;
}

/**
 * The primary's two internal chardev pairs (redirector to colo-compare and
 * back) use abstract unix sockets: no port to configure or collide with and
 * no socket file to clean up; they close with qemu. The MAC keeps the names
 * apart between VMs on one host (a MAC is unique on its network anyway).
 */
export function internalSocketName(nic: NicConfig, end: 'primary-in' | 'compare-out'): string {
  return `colo-ft/${nic.mac.toLowerCase().replaceAll(':', '')}/${end}`;
}
