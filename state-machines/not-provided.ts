/** The default body of every machine actor: a forgotten `.provide()` fails loudly. */
export function notProvided(name: string): never {
  throw new Error(`actor ${name} not provided`);
}
