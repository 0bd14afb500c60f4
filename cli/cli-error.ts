/**
 * Every failure of a command, said once: with `--json`, one object on stdout
 * (`{"ok":false,"error":{"code","message"}}`, plus details where they help),
 * else the message on stderr. The caller returns the exit code.
 */
export function sayError(json: boolean | undefined, code: string, message: string, details: Record<string, unknown> = {}): void {
  if (json) console.log(JSON.stringify({ ok: false, error: { code, message }, ...details }));
  else console.error(message);
}
