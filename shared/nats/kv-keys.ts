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
