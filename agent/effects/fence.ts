import { sleep, type VmInstance } from '../../shared/qemu/index.js';

/**
 * Pause the VM for good. A plain `stop` is undone by COLO's next checkpoint,
 * so the COLO stream is yanked first (out-of-band, works even if the main
 * monitor is stuck); then the VM must stay stopped.
 */
export async function fenceByPause(vm: VmInstance): Promise<void> {
  await vm.oob.executeOob('yank', { instances: [{ type: 'migration' }] }, { timeoutMs: 200 }).catch(() => undefined);
  await vm.qmp.execute('stop', undefined, { timeoutMs: 200 });
  for (let i = 0; i < 3; i++) {
    await sleep(50);
    const st = (await vm.qmp.execute('query-status', undefined, { timeoutMs: 200 })) as { running?: boolean; status?: string };
    if (st.running !== false) throw new Error(`VM still running after stop (run state ${st.status})`);
  }
}
