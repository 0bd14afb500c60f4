import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import { credsDirFiles, type TlsPlan } from './tls-plan.js';

/**
 * Fill qemu's credential directory for one VM from the pair's files (qemu and
 * the relay read fixed names there). Keys stay 0600. A missing file is a
 * config error naming it and `colo-ft certs init`.
 */
export function installCreds(t: TlsPlan): void {
  mkdirSync(t.credsDir, { recursive: true, mode: 0o700 });
  chmodSync(t.credsDir, 0o700);
  for (const f of credsDirFiles(t)) {
    const to = join(t.credsDir, f.name);
    if (f.optional && !existsSync(f.from)) continue;
    try {
      copyFileSync(f.from, to);
      chmodSync(to, f.secret ? 0o600 : 0o644);
    } catch (e) {
      throw new ConfigError([
        { path: 'replication.pkiDir', message: `cannot use ${f.from} (${errorMessage(e)}): create the pair's certificates with colo-ft certs init --config FILE, or set replication.tls: off` },
      ]);
    }
  }
}
