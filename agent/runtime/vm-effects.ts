import { fromPromise } from 'xstate';
import { stallBoundMs, vmMachine, type VmContext, type VmEvent, type VmInput } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import type { Lease } from '../../shared/lease/index.js';
import type { Logger } from '../../shared/log.js';
import { planVm, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { provideFailover } from '../effects/failover-actors.js';
import type { FailoverSide } from '../effects/failover-side.js';
import { provideCheckpoint } from '../effects/protect.js';
import type { RestoreEffects } from '../effects/restore-actors.js';
import { CLAIM_DEADLINE_MARGIN_MS, CLAIM_RETRY_MS } from '../effects/lease-claim.js';
import { reconcile } from '../reconcile/adoption.js';
import type { VmControllerDeps } from './vm-controller-deps.js';
import { qmpCallWithin } from '../../shared/qmp/index.js';

/** The one bundle the VM machine's effects draw on: the agent's adapters, this VM's live qemu and its failover side. */
export interface VmEffectsHost {
  deps: VmControllerDeps;
  peerName: string;
  lease: Lease;
  log: Logger;
  restore: RestoreEffects;
  context(): VmContext;
  plan(): VmPlan;
  vm(): VmInstance | null;
  requireVm(): VmInstance;
  side(): FailoverSide;
  send(event: VmEvent): void;
  /** A fresh failover side for the failover child about to start. */
  newSide(): void;
  attachVm(vm: VmInstance, qmpSocket: string): void;
  /** The children have stopped: stop the old qemu, make way for a fresh secondary. */
  resetForRejoin(): Promise<void>;
  setColoSizes(sizes: Map<number, number>): void;
  /** About to link fresh replication children. */
  onLinking(): void;
}

/** The VM machine with every child's effects bound to this VM on this node. */
export function provideVmEffects(h: VmEffectsHost) {
  const { config, bus, img, qemuBinary, nodeName, vmName, kvmUsable } = h.deps;
  const call = qmpCallWithin(config.timings.qmpTimeoutMs);
  return vmMachine.provide({
    actors: {
      reconcile: fromPromise(async () => {
        const found = await reconcile({ config, nodeName, vmName, kvmUsable, lease: h.lease, log: h.log });
        h.newSide();
        if (found.vm) h.attachVm(found.vm, planVm(config, vmName, nodeName, found.role, kvmUsable).qmpSocket);
        return { role: found.role, start: found.start };
      }),
      resetForRejoin: fromPromise<void, { vm: string }>(() => h.resetForRejoin()),
      reclaimLease: fromPromise<void, { vm: string }>(async () => {
        await h.side().claimForPrimary(AbortSignal.timeout(config.timings.qmpTimeoutMs));
      }),
      failover: provideFailover({ config, peerName: h.peerName, lease: h.lease, log: h.log, plan: h.plan, vm: h.vm, side: h.side }),
      protect: provideCheckpoint({
        ...{ config, bus, img, qemuBinary, peerName: h.peerName, log: h.log, plan: h.plan, rejoinSizes: () => h.context().rejoinSizes },
        claimForPrimary: (signal) => h.side().claimForPrimary(signal),
        attachVm: (vm) => h.attachVm(vm, h.plan().qmpSocket),
        requireVm: h.requireVm,
        setColoSizes: h.setColoSizes,
        call,
        hasVm: () => h.vm()?.proc.isRunning === true,
        onSyncProgress: (bytesDone, bytesTotal) => h.send({ type: 'SYNC_PROGRESS', bytesDone, bytesTotal }),
        onLinking: h.onLinking,
      }),
      restore: h.restore.machine(),
    },
  });
}

/** The first retry of a failed protection (it doubles from there): long enough for a clean-up to settle, short enough not to leave the VM unprotected. */
const PROTECT_RETRY_BASE_MS = 2_000;

/** The VM machine's input: names, policy and every timing, from the config (defaults live in its schema). */
export function vmInputFor(config: Config, vm: string, peer: string, plan: VmPlan): VmInput {
  const t = config.timings;
  return {
    ...{ vm, node: plan.node, peer, autoRestore: config.restore.auto, policy: config.failover.policy, assumeIdentical: plan.assumeIdentical },
    timings: {
      ...{ protectTimeoutMs: t.protectTimeoutMs, stallBoundMs: stallBoundMs(plan.checkpointDelayMs), protectRetryMs: PROTECT_RETRY_BASE_MS },
      ...{ claimRetryMs: CLAIM_RETRY_MS, claimDeadlineMs: t.leaseTtlMs + CLAIM_DEADLINE_MARGIN_MS, standbyRetryMs: t.leaseTtlMs, actionTimeoutMs: t.qmpLongTimeoutMs, restoreRetryBaseMs: config.restore.retryBaseMs, restoreRetryMaxMs: config.restore.retryMaxMs },
    },
  };
}
