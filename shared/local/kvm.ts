import { accessSync, constants } from 'node:fs';

/** KVM is usable when /dev/kvm exists and this process may open it read-write. */
export function isKvmUsable(path = '/dev/kvm'): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
