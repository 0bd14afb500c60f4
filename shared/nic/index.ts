export type { NicConfig, NicModel, NicNetdev, NicProxy } from './nic-config.js';
export { nicIds, type NicIds } from './nic-ids.js';
export { planNic, isProxiedNic, usesVnetHdr, internalSocketName, type NicPlan } from './nic-plan.js';
export { buildNicArgs, netdevOption, objectOption } from './nic-args.js';
export { primaryChardevs, primaryObjects, secondaryFilters, secondaryListeners, type ChardevAdd, type QomProps } from './nic-proxy.js';
export { primaryAttachSteps, primaryDropSteps, secondaryProxyHost, secondaryTakeOverSteps } from './nic-steps.js';
export { nicDevice, nicDevices, isNicDevice, type NicDevice } from './nic-device.js';
export { compareTraceArgs, compareTracePath, parseCompareTrace, tallyCompare, emptyTally, COMPARE_TRACE_EVENTS, type CompareTally, type CheckpointStart, type TallyContext, type CompareTraceLine, type NicCompareCounts } from './compare-trace.js';
export { nicProxyState, primaryProxyObjects, secondaryProxyObjects, type NicProxyState } from './proxy-state.js';
