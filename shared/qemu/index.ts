export { launchQemu, adoptQemu, stopQemu, type QemuProcess, type QemuExit, type StopOptions } from './process.js';
/** Re-exported for existing importers; new code imports shared/qemu-img. */
export { qemuImg, type QemuImg, type ImageInfo } from '../qemu-img/index.js';
export { isKvmUsable, probeQemuBinary, checkQmpCommands, missingCommands, parseQemuVersion, checkQemuVersion, qemuColoSupport, REQUIRED_QMP_COMMANDS, type QemuColoSupport, type QemuVersion } from './host.js';
export { buildQemuArgs, resolveAccelerator, resolveMachineType, type Accelerator, type QemuArgsInput } from './qemu-args.js';
export { planVm, findNode, findVm, peerOf, vmRunDir, qemuNameOf, startKindFor, type VmPlan, type DiskPlan } from './vm-plan.js';
export { launchVm, adoptVm, ensureSecondaryRelay, stopSecondaryRelay, type VmInstance, type LaunchVmOptions, type AdoptResult } from './vm-instance.js';
export { awaitColoMode } from './colo-wait.js';
/** Re-exported for the role steps and the agent, which import it from here. */
export { sleep } from '../sleep.js';
