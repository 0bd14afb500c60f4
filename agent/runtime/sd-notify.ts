import { execFile } from 'node:child_process';
import type { Logger } from '../../shared/log.js';

/**
 * systemd readiness and watchdog through the `systemd-notify` helper (Node has
 * no AF_UNIX datagram sockets; the unit sets NotifyAccess=all). A no-op when
 * not started by systemd with Type=notify.
 */
export function sdNotify(args: string[], log: Logger): Promise<void> {
  if (!process.env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve) => {
    execFile('systemd-notify', args, (err) => {
      if (err) log.warn({ reason: err.message, args }, 'systemd-notify failed');
      resolve();
    });
  });
}

/** Half the watchdog period systemd asked for, or null when there is no watchdog. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isFinite(usec) || usec <= 0) return null;
  return Math.max(100, Math.floor(usec / 2000));
}
