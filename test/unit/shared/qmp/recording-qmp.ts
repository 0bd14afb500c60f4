import type { CallOptions, QmpClient, QmpEvent } from '../../../../shared/qmp/index.js';

/** One monitor command as the fake saw it: `execute`, `exec-oob` or an HMP line. */
export type Sent = { execute: string; arguments?: Record<string, unknown> } | { oob: string; arguments?: Record<string, unknown> } | { hmp: string };

/** What the fake answers a command with: a value, or an error to reject with. */
export type Answer = (sent: Sent) => unknown;

/**
 * A QmpClient that records every command and answers from `answer` (a thrown
 * or returned Error rejects). No socket: role steps and the executor are
 * checked for the exact traffic they send.
 */
export function recordingQmp(answer: Answer = () => ({})): QmpClient & { sent: Sent[] } {
  const sent: Sent[] = [];
  const reply = async (s: Sent): Promise<unknown> => {
    sent.push(s);
    const value = answer(s);
    if (value instanceof Error) throw value;
    return value;
  };
  const withArgs = <T extends object>(base: T, args?: Record<string, unknown>): T => (args === undefined ? base : { ...base, arguments: args });
  return {
    sent,
    execute: (command: string, args?: Record<string, unknown>, _o?: CallOptions) => reply(withArgs({ execute: command }, args)),
    executeOob: (command: string, args?: Record<string, unknown>, _o?: CallOptions) => reply(withArgs({ oob: command }, args)),
    hmp: async (line: string, _o?: CallOptions) => {
      const out = await reply({ hmp: line });
      return typeof out === 'string' ? out : '';
    },
    onEvent: (_l: (e: QmpEvent) => void) => () => undefined,
    events: () => (async function* () {})(),
    closed: new Promise<void>(() => undefined),
    isOpen: true,
    close: async () => undefined,
  };
}

/** The name a recorded command goes by, whatever its form. */
export function commandOf(s: Sent): string {
  return 'execute' in s ? s.execute : 'oob' in s ? s.oob : `hmp ${s.hmp}`;
}
