import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AbortedError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { connectQmp, queryCommandNames, type QmpClient } from '../qmp/index.js';
import { checkQmpCommands } from './host.js';
import { adoptQemu, launchQemu, stopQemu, type QemuProcess } from './process.js';
import { isPidAlive, processCmdline, readPidFile } from '../local/index.js';
import { sleep } from '../sleep.js';
import type { VmPlan } from './vm-plan.js';
import { installCreds } from '../tls/index.js';
import { findRelay, secondaryRelayArgs, startRelay, stopRelay } from '../relay/index.js';

/** One running qemu with its two monitors: the main one, and an OOB one for `yank`. */
export interface VmInstance {
  readonly proc: QemuProcess;
  readonly qmp: QmpClient;
  readonly oob: QmpClient;
  stop(graceMs?: number): Promise<void>;
}

export interface LaunchVmOptions {
  binary: string;
  plan: VmPlan;
  qmpTimeoutMs: number;
  /** How long a fresh qemu may take to greet on its monitors: it does so only once its main loop runs, which a loaded host delays. Default: qmpTimeoutMs. */
  startTimeoutMs?: number;
  log: Logger;
  signal?: AbortSignal;
}

export async function launchVm(o: LaunchVmOptions): Promise<VmInstance> {
  const { plan, log } = o;
  // A launch asked for by an effect that was stopped meanwhile (agent shutdown) must not leave a qemu nobody owns.
  if (o.signal?.aborted) throw new AbortedError('qemu launch');
  mkdirSync(plan.runDir, { recursive: true });
  if (plan.tls) installCreds(plan.tls);
  for (const stale of [plan.qmpSocket, plan.oobQmpSocket, plan.pidFile]) rmSync(stale, { force: true });
  log.info({ args: plan.args }, 'launching qemu');
  const proc = launchQemu({ binary: o.binary, args: plan.args, log, outputFile: join(plan.runDir, 'qemu.log') });
  // If qemu dies while we wait for its monitor, fail with its own words, not a connect timeout.
  const gone = new AbortController();
  void proc.exited.then(() => gone.abort());
  const signal = o.signal ? AbortSignal.any([o.signal, gone.signal]) : gone.signal;
  let qmp: QmpClient | undefined;
  try {
    const handshakeTimeoutMs = o.startTimeoutMs ?? o.qmpTimeoutMs;
    qmp = await connectQmp({ socketPath: plan.qmpSocket, timeoutMs: o.qmpTimeoutMs, handshakeTimeoutMs, signal, log });
    const oob = await connectQmp({ socketPath: plan.oobQmpSocket, timeoutMs: o.qmpTimeoutMs, handshakeTimeoutMs, oob: true, signal, log });
    checkQmpCommands(await queryCommandNames(qmp, { timeoutMs: o.qmpTimeoutMs }));
    if (o.signal?.aborted) {
      await oob.close();
      throw new AbortedError('qemu launch');
    }
    // The incoming qemu listens on its unix socket now: the relay in front of it may accept the primary's stream.
    if (plan.relay && plan.role === 'secondary') ensureSecondaryRelay(plan, log);
    return instance(proc, qmp, oob, plan);
  } catch (e) {
    // The socket may close a moment before the exit is reported: give the exit a chance, its stderr says why.
    if (proc.isRunning) await Promise.race([proc.exited, sleep(250)]);
    const cause = proc.isRunning ? e : proc.exitError();
    log.warn({ reason: errorMessage(cause) }, 'qemu launch failed');
    await stopQemu(proc, { graceMs: 500 });
    await qmp?.close();
    throw cause;
  }
}

/** The secondary's relay, started unless ours already runs (a restarted agent, or a second readiness check). */
export function ensureSecondaryRelay(plan: VmPlan, log: Logger): void {
  if (!plan.relay || findRelay(plan.runDir, 'secondary', plan.relay.incomingSocket) !== null) return;
  startRelay({ runDir: plan.runDir, side: 'secondary', socket: plan.relay.incomingSocket, args: secondaryRelayArgs(plan.relay), binary: plan.relay.binary, log });
}

/**
 * A secondary that took over takes no stream any more: its listener (which
 * with TLS outlives each connection) must not stay on the replication port,
 * where the next secondary's relay will listen.
 */
export function stopSecondaryRelay(plan: VmPlan): void {
  if (plan.relay) stopRelay(plan.runDir, 'secondary', plan.relay.incomingSocket);
}

/** Both relays go with the VM: each is its qemu's stream and nothing else. */
function stopRelays(plan: VmPlan): void {
  if (!plan.relay) return;
  stopRelay(plan.runDir, 'secondary', plan.relay.incomingSocket);
  stopRelay(plan.runDir, 'primary', plan.relay.outgoingSocket);
}

function instance(proc: QemuProcess, qmp: QmpClient, oob: QmpClient, plan: VmPlan): VmInstance {
  // A relay only serves its qemu: one left listening for a dead incoming qemu would take the next stream.
  // After the agent has heard of the exit (a failover's hand-over goes first); the relay closes on EOF by itself anyway.
  void proc.exited.then(() => setImmediate(() => stopRelays(plan)));
  return {
    proc,
    qmp,
    oob,
    async stop(graceMs = 2_000) {
      await stopQemu(proc, { graceMs, quit: () => qmp.execute('quit', undefined, { timeoutMs: 1_000 }) });
      stopRelays(plan);
      await qmp.close();
      await oob.close();
    },
  };
}

export type AdoptResult =
  | { kind: 'none' }
  | { kind: 'stranger'; pid: number; reason: string }
  | { kind: 'unresponsive'; pid: number; reason: string }
  | { kind: 'adopted'; vm: VmInstance };

/**
 * Find the qemu an earlier agent left running for this VM. A pid is accepted
 * only if its command line carries this VM's `-name` and QMP socket (never
 * adopt a stranger); then both monitors are reconnected. Nothing here changes the VM.
 */
export async function adoptVm(o: { plan: VmPlan; qemuName: string; qmpTimeoutMs: number; log: Logger }): Promise<AdoptResult> {
  const { plan, log } = o;
  const pid = readPidFile(plan.pidFile);
  if (pid === null || !isPidAlive(pid)) return { kind: 'none' };
  const cmdline = processCmdline(pid);
  const ours = cmdline.includes(o.qemuName) && cmdline.some((a) => a.includes(`unix:${plan.qmpSocket},`));
  if (!ours) return { kind: 'stranger', pid, reason: `pid ${pid} in ${plan.pidFile} is not this VM's qemu (${cmdline.slice(0, 3).join(' ') || 'no command line'})` };
  let qmp: QmpClient | undefined;
  try {
    qmp = await connectQmp({ socketPath: plan.qmpSocket, timeoutMs: o.qmpTimeoutMs, connectTimeoutMs: o.qmpTimeoutMs, log });
    const oob = await connectQmp({ socketPath: plan.oobQmpSocket, timeoutMs: o.qmpTimeoutMs, connectTimeoutMs: o.qmpTimeoutMs, oob: true, log });
    const proc = adoptQemu({ pid, outputFile: join(plan.runDir, 'qemu.log'), log });
    return { kind: 'adopted', vm: instance(proc, qmp, oob, plan) };
  } catch (e) {
    await qmp?.close();
    return { kind: 'unresponsive', pid, reason: `our qemu (pid ${pid}) does not answer its monitors: ${errorMessage(e)}` };
  }
}
