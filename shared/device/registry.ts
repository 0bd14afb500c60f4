import { diskDevices } from '../disk/index.js';
import { nicDevices } from '../nic/index.js';
import type { DeviceKindPlanner, DevicePlanInput, GuestDevice } from './guest-device.js';

/** Every device kind, in the order their argv goes on qemu's command line: one line per kind. */
const DEVICE_KINDS: readonly DeviceKindPlanner[] = [diskDevices, nicDevices];

/** The VM's devices of every kind, as this node runs them. Pure. */
export function planDevices(input: DevicePlanInput): GuestDevice[] {
  return DEVICE_KINDS.flatMap((kind) => kind.plan(input));
}

/** Every device's argv, one piece per device, in plan order. */
export function deviceArgv(devices: readonly GuestDevice[]): string[][] {
  return devices.map((d) => d.argv());
}
