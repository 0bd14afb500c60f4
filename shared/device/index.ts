export { planDevices, deviceArgv } from './registry.js';
export type {
  DeviceKind,
  DeviceKindPlanner,
  DevicePlanInput,
  GuestDevice,
  PrimaryDeviceSteps,
  ReplicationPeer,
  SecondaryDeviceSteps,
} from './guest-device.js';
