import { join } from 'node:path';
import type { VmConfig } from '../config/index.js';
import { escapeQemuOptionValue } from '../disk/index.js';

/** The chardev the guest's first serial port writes to. */
export const CONSOLE_CHARDEV_ID = 'colo-console';

export function consoleLogPath(runDir: string): string {
  return join(runDir, 'console.log');
}

/** Firmware, direct kernel boot, serial console and VNC for a real machine; nothing on `-machine none`. Pure. */
export function buildGuestArgs(vm: Pick<VmConfig, 'boot' | 'console'>, o: { machineHasBuses: boolean; runDir: string }): string[] {
  if (!o.machineHasBuses) return [];
  const args: string[] = [];
  const { boot, console } = vm;
  if (boot.firmware === 'ovmf' && boot.ovmfCode !== undefined) {
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${escapeQemuOptionValue(boot.ovmfCode)}`);
    if (boot.ovmfVars !== undefined) args.push('-drive', `if=pflash,format=raw,unit=1,file=${escapeQemuOptionValue(boot.ovmfVars)}`);
  }
  if (boot.kernel !== undefined) args.push('-kernel', boot.kernel);
  if (boot.initrd !== undefined) args.push('-initrd', boot.initrd);
  if (boot.append !== undefined) args.push('-append', boot.append);
  if (console.serial === 'log') {
    // append=on: a restarted qemu (restore) adds to the guest's history instead of wiping it.
    args.push('-chardev', `file,id=${CONSOLE_CHARDEV_ID},path=${escapeQemuOptionValue(consoleLogPath(o.runDir))},append=on`);
    args.push('-serial', `chardev:${CONSOLE_CHARDEV_ID}`);
  }
  if (console.vnc) {
    // -nodefaults leaves the guest without a display adapter; VNC needs one.
    args.push('-device', 'VGA', '-vnc', `127.0.0.1:${console.vncDisplay}`);
  }
  return args;
}
