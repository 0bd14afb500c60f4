import type { QmpEvent } from '../../shared/qmp/index.js';

export type ColoSignal =
  | { type: 'CHECKPOINT_COMPLETED'; at: number; pauseMs: number }
  | { type: 'COLO_EXITED'; reason: string };

export function eventTimeMs(e: QmpEvent): number {
  return e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000;
}

/**
 * Turns the primary's STOP/RESUME pairs into checkpoint completions (query-migrate
 * only says "colo"), and COLO_EXIT into a signal. The pause and the completion
 * time are qemu's own event timestamps: our event loop's latency must neither
 * inflate a pause nor make a checkpoint read after a stall of this process look
 * fresher than it is (the primary's fence bound is judged by it).
 */
export function coloEventTranslator(now: () => number = Date.now): (e: QmpEvent) => ColoSignal | null {
  let stoppedAt: number | null = null;
  return (e) => {
    switch (e.event) {
      case 'STOP':
        stoppedAt = eventTimeMs(e);
        return null;
      case 'RESUME': {
        if (stoppedAt === null) return null;
        const pauseMs = Math.max(0, eventTimeMs(e) - stoppedAt);
        stoppedAt = null;
        return { type: 'CHECKPOINT_COMPLETED', at: Math.min(now(), eventTimeMs(e)), pauseMs };
      }
      case 'COLO_EXIT': {
        const reason = typeof e.data.reason === 'string' ? e.data.reason : 'unknown';
        const mode = typeof e.data.mode === 'string' ? e.data.mode : 'unknown';
        return { type: 'COLO_EXITED', reason: `qemu left COLO ${mode} mode (reason ${reason})` };
      }
      default:
        return null;
    }
  };
}

/**
 * A write the quorum could not complete on one of its children, as qemu itself
 * reports it (QUORUM_REPORT_BAD, type write or flush). With vote-threshold 1
 * the guest never sees the error, so this event is the only trace that a
 * write did not reach the secondary. Reads are not counted: the replication
 * child is write-only by design.
 */
export function quorumWriteFailure(e: QmpEvent): { node: string; detail: string; atMs: number } | null {
  if (e.event !== 'QUORUM_REPORT_BAD') return null;
  const type = typeof e.data.type === 'string' ? e.data.type : 'write';
  if (type !== 'write' && type !== 'flush') return null;
  const node = typeof e.data['node-name'] === 'string' ? e.data['node-name'] : '';
  const error = typeof e.data.error === 'string' ? e.data.error : 'error';
  const sector = typeof e.data.sector === 'number' ? e.data.sector : null;
  return { node, atMs: eventTimeMs(e), detail: `a ${type} did not reach ${node || 'a quorum child'} (${error}${sector === null ? '' : ` at sector ${sector}`})` };
}
