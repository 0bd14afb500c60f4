/**
 * One guest NIC as the VM's config gives it (the config schema parses into
 * this; until then it is built by hand). `proxy` null: the NIC takes no part
 * in COLO (no packet compare, checkpoints only periodic).
 */
export type NicModel = 'virtio-net-pci' | 'e1000' | 'none';

export type NicNetdev =
  | { type: 'tap'; ifname?: string; bridge?: string; script?: string }
  | { type: 'user' }
  | { type: 'socket'; listen?: string; connect?: string; udp?: string; localaddr?: string };

/** The secondary's two listening ports of the COLO proxy: the primary's mirrored inbound traffic, and the secondary's output for colo-compare. */
export interface NicProxy {
  mirrorPort: number;
  comparePort: number;
}

export interface NicConfig {
  /** `none`: no guest NIC, the netdev gets a hub port as its peer (tests with `-machine none`). */
  model: NicModel;
  mac: string;
  netdev: NicNetdev;
  proxy: NicProxy | null;
}
