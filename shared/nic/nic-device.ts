import type { DeviceKindPlanner, DevicePlanInput, GuestDevice } from '../device/guest-device.js';
import { buildNicArgs } from './nic-args.js';
import { isProxiedNic, planNic, type NicPlan } from './nic-plan.js';
import { primaryAttachSteps, primaryDropSteps, primaryYankInstances, secondaryTakeOverSteps } from './nic-steps.js';

/** A NIC as a guest device: its NicPlan, its -netdev/-device argv and its proxy's QMP sequences. */
export interface NicDevice extends GuestDevice {
  readonly kind: 'nic';
  readonly plan: NicPlan;
}

export function nicDevice(plan: NicPlan): NicDevice {
  return {
    kind: 'nic',
    index: plan.index,
    replicated: isProxiedNic(plan.nic),
    plan,
    argv: () => buildNicArgs(plan),
    primary: {
      attach: (peer) => primaryAttachSteps(plan, peer),
      // colo-compare is in the data path as soon as it exists; nothing is left to link.
      link: () => [],
      // filter-mirror's write to a frozen secondary blocks qemu's main loop once the socket buffer is full;
      // the yank cuts both chardevs to the secondary (each yanked alone: one already gone must not stop the rest).
      yankInstances: () => primaryYankInstances(plan),
      carryOn: () => primaryDropSteps(plan),
      // A NIC has no state to copy: the guest's packets only flow once COLO runs.
      startResync: () => [],
      resyncJobs: () => [],
      setResyncSpeed: () => [],
      finishResync: () => [],
      releaseResync: () => [],
      cleanUp: () => primaryDropSteps(plan),
      audit: () => null,
    },
    secondary: {
      // Its listening chardevs and filters are on the incoming qemu's command line.
      prepare: () => [],
      takeOver: () => secondaryTakeOverSteps(plan),
      audit: () => null,
    },
  };
}

export function isNicDevice(d: GuestDevice): d is NicDevice {
  return d.kind === 'nic';
}

/**
 * The NIC kind's registration: one device per configured NIC, in config
 * order. `input.role` is the role this qemu's argv was built for (the agent
 * plans a survivor with the layout it started in), so a qemu planned as a
 * secondary holds rew{i} from its command line: that is the explicit
 * holdsRewriter flag the primary steps read, taken from the one fact that
 * put the rewriter there rather than from a second flag that could disagree.
 */
export const nicDevices: DeviceKindPlanner = {
  kind: 'nic',
  plan: (input: DevicePlanInput) =>
    (input.vm.nics ?? []).map((nic, index) =>
      nicDevice(planNic(nic, index, { role: input.role, holdsRewriter: input.role === 'secondary', listenHost: input.address ?? '0.0.0.0' })),
    ),
};
