import { fromPromise } from 'xstate';
import { attachReplication, awaitMirrorReady, awaitPeerReady, cleanUpResync, primaryDiskSizes, startMigration, startMirror } from '../../primary/index.js';
import { coloDiskSizes, ensureParentImages, exportDisks, prepareOverlays } from '../../secondary/index.js';
import { checkpointMachine, type PeerEndpoints } from '../../state-machines/index.js';
import type { Config } from '../../shared/config/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus } from '../../shared/nats/index.js';
import { awaitColoMode, launchVm, type QemuImg, type VmInstance, type VmPlan } from '../../shared/qemu/index.js';
import { ensureCanaryImage } from './canary.js';

/** The secondary's readiness is one NATS round trip on a local network: asking often makes protection start as soon as it is ready. */
export const PEER_POLL_MS = 10;
/** The first copy's progress (one query-block-jobs) and the COLO mode (one query) are read this often while waiting. */
const SYNC_POLL_MS = 20;
const COLO_POLL_MS = 5;

/** What the checkpoint machine's effects need from the VM's controller. */
export interface CheckpointHost {
  config: Config;
  peerName: string;
  bus: Bus;
  img: QemuImg;
  qemuBinary: string;
  log: Logger;
  /** The plan of the VM as this node runs it now (the VM machine's role and qemu's layout). */
  plan(): VmPlan;
  /** Disk sizes the survivor asked for when this node rejoins as a fresh secondary. */
  rejoinSizes(): ReadonlyArray<{ index: number; sizeBytes: number }> | null;
  claimForPrimary(signal: AbortSignal): Promise<unknown>;
  attachVm(vm: VmInstance): void;
  requireVm(): VmInstance;
  setColoSizes(sizes: Map<number, number>): void;
  call(signal?: AbortSignal): { timeoutMs: number; signal?: AbortSignal };
  hasVm(): boolean;
  onSyncProgress(bytesDone: number, bytesTotal: number): void;
  /** About to link fresh replication children. */
  onLinking(): void;
}

function actor<T, I = unknown>(body: (args: { input: I; signal: AbortSignal }) => Promise<T>) {
  return fromPromise<T, I>(({ input, signal }) => body({ input, signal }));
}

/** The checkpoint machine with its effects bound to one VM on this node. */
export function provideCheckpoint(h: CheckpointHost) {
  const { img } = h;
  return checkpointMachine.provide({
    actors: {
      prepareDisks: actor(async () => {
        const sizes = h.rejoinSizes();
        if (sizes) await ensureParentImages(h.plan(), img, sizes);
        await ensureCanaryImage(h.plan(), img);
        await prepareOverlays(h.plan(), img);
        h.setColoSizes(await coloDiskSizes(h.plan(), img));
      }),
      launchQemu: actor(async ({ signal }) => {
        if (h.plan().role === 'primary') await h.claimForPrimary(signal);
        await ensureCanaryImage(h.plan(), img);
        const vm = await launchVm({ binary: h.qemuBinary, plan: h.plan(), qmpTimeoutMs: h.config.timings.qmpTimeoutMs, startTimeoutMs: h.config.timings.qmpLongTimeoutMs, log: h.log, signal });
        h.attachVm(vm);
        return { pid: vm.proc.pid };
      }),
      exportDisks: actor(({ signal }) => exportDisks(h.plan(), h.requireVm().qmp, h.call(signal))),
      awaitPeerReady: actor(async ({ signal }) =>
        awaitPeerReady(h.bus, {
          pair: h.config.pair,
          vm: h.plan().vm,
          peerNode: h.peerName,
          disks: await primaryDiskSizes(h.plan(), img),
          accel: h.plan().accel,
          pollMs: PEER_POLL_MS,
          log: h.log,
          ...h.call(signal),
        }),
      ),
      syncPeer: actor<void, { vm: string; peer: PeerEndpoints }>(async ({ input, signal }) => {
        const qmp = h.requireVm().qmp;
        h.log.info({ peer: input.peer.node }, 'first protection: copying every COLO disk onto the secondary');
        await startMirror(qmp, h.plan(), input.peer, h.config.restore.bandwidthBytesPerSec, h.call(signal));
        await awaitMirrorReady(qmp, h.plan(), (p) => h.onSyncProgress(p.bytesDone, p.bytesTotal), { ...h.call(signal), pollMs: SYNC_POLL_MS });
      }),
      attachReplication: actor<void, { vm: string; peer: PeerEndpoints }>(async ({ input, signal }) => {
        if (h.plan().assumeIdentical) h.log.warn({ peer: input.peer.node }, 'assumeIdentical: protecting without copying the disks onto the secondary');
        h.onLinking();
        await attachReplication(h.requireVm().qmp, h.plan(), input.peer, h.call(signal));
      }),
      cleanUpProtect: actor<void, { vm: string; resume: boolean }>(async ({ input }) => {
        if (h.plan().role === 'primary' && h.hasVm()) await cleanUpResync(h.requireVm().qmp, h.plan(), h.call(), { resume: input.resume });
      }),
      startMigration: actor<void, { vm: string; peer: PeerEndpoints }>(({ input, signal }) => startMigration(h.requireVm().qmp, h.plan(), input.peer, h.call(signal))),
      awaitColo: actor(({ signal }) => awaitColoMode(h.requireVm().qmp, h.plan().role, { ...h.call(signal), pollMs: COLO_POLL_MS, untilRunning: h.plan().role === 'primary' })),
    },
  });
}
