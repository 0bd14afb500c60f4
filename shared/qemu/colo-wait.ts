import { AbortedError } from '../errors.js';
import { queryColoStatus, queryMigrate, queryStatus, type QmpClient } from '../qmp/index.js';
import { ColoError } from '../errors.js';
import { sleep } from '../sleep.js';

/** What QEMU 10.0-10.1 without the upstream fix does: the migration ends as a plain one and COLO never starts. */
export const COMPLETED_WITHOUT_COLO =
  'the migration completed as a plain migration instead of entering COLO (COLO mode none): this qemu lacks ' +
  '"migration: Fix transition to COLO state from precopy" (QEMU 10.0 and 10.1 without it cannot protect a VM)';

/**
 * Poll until qemu reports the COLO mode of its role. On the primary a failed
 * migration ends the wait early with qemu's own error text.
 *
 * `untilRunning` (the primary, whose VM was stopped before its replication
 * children were linked): COLO mode alone is not enough. qemu reports mode
 * primary as soon as the migration enters COLO, but starts block replication
 * only after the secondary's CHECKPOINT_READY, and a replication child writes
 * nothing (silently) until then. qemu resumes the VM right after starting
 * replication, so "mode primary and running" proves replication is on.
 */
export async function awaitColoMode(
  qmp: QmpClient,
  mode: 'primary' | 'secondary',
  o: { timeoutMs: number; pollMs?: number; signal?: AbortSignal; untilRunning?: boolean },
): Promise<void> {
  for (;;) {
    if (o.signal?.aborted) throw new AbortedError(`waiting for COLO ${mode}`);
    const colo = await queryColoStatus(qmp, { timeoutMs: o.timeoutMs, signal: o.signal });
    if (colo.mode === mode) {
      if (!o.untilRunning) return;
      const st = await queryStatus(qmp, { timeoutMs: o.timeoutMs, signal: o.signal });
      if (st.running) return;
    }
    if (mode === 'primary') {
      const mig = await queryMigrate(qmp, { timeoutMs: o.timeoutMs, signal: o.signal });
      if (mig.status === 'failed' || mig.status === 'cancelled') {
        throw new ColoError(`migration ${mig.status}${mig.errorDesc ? `: ${mig.errorDesc}` : ''}`, 'local');
      }
      if (mig.status === 'completed' && colo.mode === 'none') throw new ColoError(COMPLETED_WITHOUT_COLO, 'fatal');
    }
    await sleep(o.pollMs ?? 10, o.signal);
  }
}
