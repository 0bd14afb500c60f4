/**
 * Every id a disk uses, from its index alone, so the primary's replication
 * child, the secondary's NBD export and the drive ids line up across hosts
 * (colo-procedure.md "Drive layouts").
 */
export interface DiskIds {
  /** The drive the guest sees: the quorum on either side, or the plain drive. */
  top: string;
  /** Secondary: the local copy, exported over NBD. */
  parent: string;
  /** Secondary: the replication drive (active over hidden over parent). */
  child: string;
  /** Primary: the replication node that writes to the secondary over NBD. */
  replicationNode: string;
  /** Primary: the NBD client node under the replication node, named so `yank` can cut it when the secondary hangs. */
  nbdNode: string;
}

export function diskIds(index: number): DiskIds {
  if (!Number.isInteger(index) || index < 0) {
    throw new RangeError(`disk index must be a non-negative integer, got ${index}`);
  }
  return {
    top: `colo-disk${index}`,
    parent: `parent${index}`,
    child: `childs${index}`,
    replicationNode: `replication${index}`,
    nbdNode: `replnbd${index}`,
  };
}

/** The NBD node on a fresh secondary's export that the resync mirrors disk `index` onto. */
export function resyncTargetId(index: number): string {
  return `resync${index}-target`;
}

/** The mirror job that copies disk `index` onto a fresh secondary. */
export function resyncJobId(index: number): string {
  return `resync${index}`;
}
