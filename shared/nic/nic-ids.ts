/**
 * Every id a NIC uses, from its index alone, so the command line, the QMP
 * sequences and an audit agree on both nodes (docs/COLO-FT.txt names them
 * hn0, m0, redire0/1, f1/f2, rew0, comp0, iothread1).
 */
export interface NicIds {
  netdev: string;
  /** The guest NIC (`-device`). */
  device: string;
  /** Model `none`: the netdev's peer instead of a guest NIC. */
  hubport: string;
  primary: {
    /** filter-mirror: inbound traffic copied to the secondary. */
    mirror: string;
    /** filter-redirector: colo-compare's released output back into the netdev. */
    redirectorIn: string;
    /** filter-redirector: the primary guest's output to colo-compare. */
    redirectorOut: string;
    compare: string;
    iothread: string;
    /** Client of the secondary's mirror port: filter-mirror's outdev. */
    mirrorChardev: string;
    /** Client of the secondary's compare port: colo-compare's secondary_in. */
    secondaryInChardev: string;
    /** Server / client pair carrying the guest's output from redirectorOut to colo-compare's primary_in. */
    primaryInServer: string;
    primaryInClient: string;
    /** Server / client pair carrying colo-compare's outdev to redirectorIn. */
    compareOutServer: string;
    compareOutClient: string;
  };
  secondary: {
    /** filter-redirector: the primary's mirrored traffic into the netdev. */
    redirectorIn: string;
    /** filter-redirector: the secondary guest's output to the primary's colo-compare. */
    redirectorOut: string;
    /** filter-rewriter: stays after takeover, the survivor's TCP sequence numbers depend on it. */
    rewriter: string;
    /** Listening on the mirror port, read by redirectorIn. */
    mirrorChardev: string;
    /** Listening on the compare port, written by redirectorOut. */
    compareChardev: string;
  };
}

export function nicIds(index: number): NicIds {
  if (!Number.isInteger(index) || index < 0) {
    throw new RangeError(`NIC index must be a non-negative integer, got ${index}`);
  }
  const i = index;
  return {
    netdev: `hn${i}`,
    device: `nic${i}`,
    hubport: `hp${i}`,
    primary: {
      mirror: `m${i}`,
      redirectorIn: `redire${i}a`,
      redirectorOut: `redire${i}b`,
      compare: `comp${i}`,
      iothread: `iothread${i}`,
      mirrorChardev: `mirror${i}`,
      secondaryInChardev: `compare${i}`,
      primaryInServer: `primin${i}`,
      primaryInClient: `primin${i}c`,
      compareOutServer: `compout${i}`,
      compareOutClient: `compout${i}c`,
    },
    secondary: {
      redirectorIn: `sredire${i}a`,
      redirectorOut: `sredire${i}b`,
      rewriter: `rew${i}`,
      mirrorChardev: `smirror${i}`,
      compareChardev: `scompare${i}`,
    },
  };
}
