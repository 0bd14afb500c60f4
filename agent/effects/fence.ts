import { sleep, type VmInstance } from '../../shared/qemu/index.js';

/**
 * The fence must finish within the primary's fence bound (FENCE_ACTION_MS in
 * shared/config/timing-rules.ts budgets it): each call is short, a qemu that
 * does not answer that fast is killed instead.
 */
const FENCE_CALL_MS = 200;
/** A stopped VM is read back a few times: COLO's next checkpoint would resume one whose stream was not yanked. */
const STOPPED_CHECKS = 3;
const STOPPED_CHECK_MS = 50;

/**
 * Pause the VM for good. A plain `stop` is undone by COLO's next checkpoint,
 * so the COLO stream is yanked first (out-of-band, works even if the main
 * monitor is stuck); then the VM must stay stopped.
 */
export async function fenceByPause(vm: VmInstance): Promise<void> {
  await vm.oob.executeOob('yank', { instances: [{ type: 'migration' }] }, { timeoutMs: FENCE_CALL_MS }).catch(() => undefined);
  await vm.qmp.execute('stop', undefined, { timeoutMs: FENCE_CALL_MS });
  for (let i = 0; i < STOPPED_CHECKS; i++) {
    await sleep(STOPPED_CHECK_MS);
    const st = (await vm.qmp.execute('query-status', undefined, { timeoutMs: FENCE_CALL_MS })) as { running?: boolean; status?: string };
    if (st.running !== false) throw new Error(`VM still running after stop (run state ${st.status})`);
  }
}
