export { checkpointMachine, type CheckpointMachine, type CheckpointInput, type CheckpointContext, type CheckpointEvent, type PeerEndpoints, type ColoRole } from './checkpoint.js';
export { emptyCheckpointLog, recordCheckpoint, checkpointRate, stallBoundMs, pauseStats, quantile, CARRIED_PAUSES, PAUSE_WINDOW_MS, type CheckpointLog, type PauseStats } from './checkpoint-figures.js';
export { toNodeStatus, mergeVmStatus, eventForTransition, phaseOf, FAILOVER_PHASE_DEPTH, type TagChange, checkpointFigures, type LiveQemu, type TransitionRecord, type VmStatus, type VmNodeView, type CheckpointSnapshotView, type FailoverSnapshotView, type RestoreSnapshotView, type NodeExtras } from './status.js';
export { failoverMachine, isStaleEpoch, type FailoverMachine, type FailoverInput, type FailoverContext, type FailoverEvent, type FailoverPolicy, type FailoverRole, type ClaimOutput, type ActionOutput, type TakeoverSteps } from './failover.js';
export { restoreMachine, backoffMs, type RestoreMachine, type RestoreInput, type RestoreContext, type RestoreEvent, type ResyncProgress } from './restore.js';
export { servesVm, rejoinRefusal, restoreRefusal, wrongRestoreTarget, shouldAutoRestore, readyAsSecondary, type VmRole, type FailoverView } from './vm-decisions.js';
export { vmMachine, type VmMachine, type VmSnapshot, type VmInput, type VmContext, type VmEvent, type ReconcileOutput, type StartKind, type FailoverFacts } from './vm.js';
export type { FailoverSignal, ProtectSignal } from './vm-types.js';
