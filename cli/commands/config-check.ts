import { loadConfig, type Config } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors.js';
import { checkNodePki, pkiDirOf, pkiFilesOf, type PkiNodeCheck } from '../../shared/tls/index.js';
import { EXIT } from '../exit-codes.js';

interface TlsReport {
  mode: 'on' | 'off';
  pkiDir: string | null;
  nodes: Array<PkiNodeCheck & { ok: boolean; expiresAt: string | null }>;
  problems: string[];
}

/**
 * With TLS on, each node's certificate that is on this host must be sound; a
 * node with none here is expected on its own host, unless `--node` names it.
 */
function checkTls(config: Config, onlyNode: string | undefined): TlsReport {
  if (config.replication.tls === 'off') return { mode: 'off', pkiDir: null, nodes: [], problems: [] };
  const dir = pkiDirOf(config);
  const nodes = config.nodes
    .filter((n) => onlyNode === undefined || n.name === onlyNode)
    .map((n) => {
      const c = checkNodePki(pkiFilesOf(dir, n.name), n);
      if (!c.present && onlyNode !== undefined) c.problems.push(`no certificate or key for ${n.name} in ${dir} (colo-ft certs init --config FILE creates them)`);
      return { ...c, ok: c.problems.length === 0 && c.present, expiresAt: c.expiresAtMs === null ? null : new Date(c.expiresAtMs).toISOString() };
    });
  const problems = nodes.flatMap((n) => n.problems.map((p) => `replication.pkiDir: ${p}`));
  if (onlyNode === undefined && !nodes.some((n) => n.present)) problems.push(`replication.pkiDir: no node's certificate in ${dir}: run colo-ft certs init --config FILE, or set replication.tls: off`);
  return { mode: 'on', pkiDir: dir, nodes, problems };
}

export function runConfigCheck(file: string, o: { json?: boolean; node?: string }): number {
  try {
    const config = loadConfig(file);
    if (o.node !== undefined && !config.nodes.some((n) => n.name === o.node)) throw new ConfigError([{ path: 'nodes', message: `no node named '${o.node}'` }]);
    const tls = checkTls(config, o.node);
    if (tls.problems.length > 0) throw new ConfigError(tls.problems.map((p) => ({ path: p.slice(0, p.indexOf(':')), message: p.slice(p.indexOf(':') + 2) })));
    if (o.json) console.log(JSON.stringify({ ok: true, pair: config.pair, vms: config.vms.map((v) => v.name), tls }));
    else {
      console.log(`${file}: ok (pair ${config.pair}, ${config.vms.length} VM${config.vms.length === 1 ? '' : 's'}: ${config.vms.map((v) => v.name).join(', ')})`);
      if (tls.mode === 'off') console.log('  WARNING replication.tls is off: NBD exports and the COLO stream accept anyone who can reach their ports');
      for (const n of tls.nodes.filter((x) => x.present)) console.log(`  ${n.node}: certificate ok, expires ${n.expiresAt}`);
    }
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (o.json) console.log(JSON.stringify({ ok: false, error: { code: 'CONFIG_INVALID', message: `${file}: ${e.issues.length} error${e.issues.length === 1 ? '' : 's'}` }, errors: e.issues }));
    else {
      console.error(`${file}: ${e.issues.length} error${e.issues.length === 1 ? '' : 's'}`);
      for (const i of e.issues) console.error(`  ${i.path || '(file)'}: ${i.message}`);
    }
    return EXIT.usage;
  }
}
