/** Every JetStream KV bucket and key the project uses is built here and nowhere else. */
export const kvBuckets = {
  /** Leases and epochs of one pair. */
  lease: (pair: string) => `colo-ft-${pair}-lease`,
} as const;

export const kvKeys = {
  /** The failover lease of one VM: holder, epoch (fencing token) and expiry. */
  lease: (vm: string) => `${vm}.lease`,
} as const;
