/** Every JetStream KV bucket and key the project uses is built here and nowhere else. */
export const kvBuckets = {
  /** Leases and epochs of one pair. */
  lease: (pair: string) => `colo-ft-${pair}-lease`,
  /** The latest status of every VM on every node, so a new subscriber sees it at once. */
  status: (pair: string) => `colo-ft-${pair}-status`,
} as const;

export const kvKeys = {
  /** The failover lease of one VM: holder, epoch (fencing token) and expiry. */
  lease: (vm: string) => `${vm}.lease`,
  /** One node's status of one VM in the status bucket. */
  status: (vm: string, node: string) => `${vm}.${node}`,
} as const;

/** Inverses of the builders above, for watchers that see raw keys (appended for the dashboard feed). */
export const kvKeyParts = {
  /** `vm1.lease` -> `vm1`; null for any other key. */
  leaseVm: (key: string): string | null => (key.endsWith('.lease') ? key.slice(0, -'.lease'.length) : null),
} as const;
