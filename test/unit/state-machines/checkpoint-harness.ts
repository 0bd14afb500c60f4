/** Shared harness for the checkpoint machine tests: controllable fromPromise fakes and fake-timer helpers. */
import { vi } from 'vitest';
import { createActor, fromPromise, type Actor } from 'xstate';
import {
  checkpointMachine,
  type CheckpointInput,
  type ColoRole,
  type PeerEndpoints,
  type ReplicationView,
} from '../../../state-machines/checkpoint.js';

/** One invocation of a fake actor, settled by the test. */
export interface Call<I, O> {
  input: I;
  signal: AbortSignal;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

export function controllable<O, I>() {
  const calls: Call<I, O>[] = [];
  const logic = fromPromise<O, I>(
    ({ input, signal }) => new Promise<O>((resolve, reject) => calls.push({ input, signal, resolve, reject })),
  );
  const last = (): Call<I, O> => {
    const c = calls.at(-1);
    if (!c) throw new Error('actor was never invoked');
    return c;
  };
  return { logic, calls, last };
}

export function fakes() {
  return {
    prepareDisks: controllable<void, { vm: string }>(),
    launchQemu: controllable<{ pid: number }, { vm: string; role: ColoRole }>(),
    exportDisks: controllable<void, { vm: string }>(),
    awaitPeerReady: controllable<PeerEndpoints, { vm: string }>(),
    syncPeer: controllable<void, { vm: string; peer: PeerEndpoints }>(),
    attachReplication: controllable<void, { vm: string; peer: PeerEndpoints }>(),
    cleanUpProtect: controllable<void, { vm: string; resume: boolean }>(),
    startMigration: controllable<void, { vm: string; peer: PeerEndpoints }>(),
    awaitColo: controllable<void, { vm: string; role: ColoRole }>(),
  };
}

export const PEER: PeerEndpoints = {
  node: 'beta',
  migrationUri: 'tcp:127.0.0.1:9100',
  nbd: { host: '127.0.0.1', port: 9101 },
  disks: [{ index: 0, exportName: 'd0', sizeBytes: 1 << 20 }],
};

export const TIMING = { protectTimeoutMs: 5_000, stallBoundMs: 1_000, retryDelayMs: 2_000 };

export function inputFor(role: ColoRole): CheckpointInput {
  return { vm: 'vm1', node: role === 'primary' ? 'alpha' : 'beta', role, ...TIMING };
}

export type CheckpointActor = Actor<typeof checkpointMachine>;

export function start(role: ColoRole, extra: Partial<CheckpointInput> = {}): { actor: CheckpointActor; f: ReturnType<typeof fakes> } {
  const f = fakes();
  const machine = checkpointMachine.provide({
    actors: {
      prepareDisks: f.prepareDisks.logic,
      launchQemu: f.launchQemu.logic,
      exportDisks: f.exportDisks.logic,
      awaitPeerReady: f.awaitPeerReady.logic,
      syncPeer: f.syncPeer.logic,
      attachReplication: f.attachReplication.logic,
      cleanUpProtect: f.cleanUpProtect.logic,
      startMigration: f.startMigration.logic,
      awaitColo: f.awaitColo.logic,
    },
  });
  const actor = createActor(machine, { input: { ...inputFor(role), ...extra } });
  actor.start();
  return { actor, f };
}

/** Let settled promises reach the actor (fake timers: no real waiting). */
export const flush = async (): Promise<void> => {
  await vi.advanceTimersByTimeAsync(0);
};
export const advance = async (ms: number): Promise<void> => {
  await vi.advanceTimersByTimeAsync(ms);
};
export const stateOf = (a: CheckpointActor): unknown => a.getSnapshot().value;
export const reasonOf = (a: CheckpointActor): string => a.getSnapshot().context.reason;

/** An audit as the replication watch sends it (shared/disk/replication-audit.ts plus when it ran). */
export function audit(state: ReplicationView['state'], checkedAt = 1_000): ReplicationView {
  if (state === 'none') return { state, reason: 'no COLO disk', disks: [], checkedAt };
  const reason =
    state === 'replicating'
      ? 'disk 0: quorum colo-disk0 writes the local image and 127.0.0.1:9101/d0'
      : 'disk 0: the quorum colo-disk0 has no replication child (children: children.0=#block666): writes reach only the local image';
  return {
    state,
    reason: state === 'replicating' ? "every COLO disk replicates (1 checked in qemu's block graph)" : reason,
    disks: [{ index: 0, state, reason }],
    checkedAt,
  };
}

export async function secondaryToAwaitingPrimary() {
  const s = start('secondary');
  s.f.prepareDisks.last().resolve();
  await flush();
  s.f.launchQemu.last().resolve({ pid: 4242 });
  await flush();
  s.f.exportDisks.last().resolve();
  await flush();
  return s;
}

export async function primaryTo(target: 'awaitingSecondary' | 'syncing' | 'attaching' | 'migrating' | 'enteringColo' | 'coloRunning') {
  const s = start('primary');
  s.f.launchQemu.last().resolve({ pid: 1001 });
  await flush();
  if (target === 'awaitingSecondary') return s;
  s.f.awaitPeerReady.last().resolve(PEER);
  await flush();
  if (target === 'syncing') return s;
  s.f.syncPeer.last().resolve();
  await flush();
  if (target === 'attaching') return s;
  s.f.attachReplication.last().resolve();
  await flush();
  if (target === 'migrating') return s;
  s.f.startMigration.last().resolve();
  await flush();
  if (target === 'enteringColo') return s;
  s.f.awaitColo.last().resolve();
  await flush();
  return s;
}

