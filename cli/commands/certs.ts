import { loadConfig } from '../../shared/config/index.js';
import { ConfigError, errorMessage } from '../../shared/errors.js';
import { dhParamsOf, issuePairPki, pkiDirOf } from '../../shared/tls/index.js';
import { sayError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';

/** `colo-ft certs init`: the pair's CA and one certificate and key per node, where the config says, and where each file must go. */
export function runCertsInit(o: { config: string; force?: boolean; days?: number; json?: boolean }): number {
  try {
    const config = loadConfig(o.config);
    const dir = pkiDirOf(config);
    const issued = issuePairPki({ dir, pair: config.pair, nodes: config.nodes.map((n) => ({ name: n.name, address: n.address })), days: o.days, force: o.force });
    if (o.json) {
      console.log(JSON.stringify({ ok: true, pkiDir: dir, caCert: issued.caCert, caKey: issued.caKey, nodes: issued.nodes }));
      return EXIT.ok;
    }
    console.log(`issued the pair ${config.pair}'s certificates in ${dir}:`);
    console.log(`  CA certificate  ${issued.caCert}   (every node needs it)`);
    console.log(`  CA key          ${issued.caKey}   (keep it off the nodes; only certs init needs it)`);
    console.log(`  DH group        ${dhParamsOf(dir)}   (every node needs it: qemu would generate one at each start otherwise)`);
    for (const n of issued.nodes) console.log(`  ${n.name.padEnd(14)}  ${n.cert} and ${n.key} (mode 0600): copy to ${n.name}'s ${dir}`);
    if (config.replication.tls === 'off') console.log('note: replication.tls is off in this config, so the agents will not use them');
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ConfigError) {
      sayError(o.json, 'CONFIG_INVALID', `${o.config}: ${e.issues.map((i) => `${i.path || '(file)'}: ${i.message}`).join('; ')}`);
      return EXIT.usage;
    }
    sayError(o.json, 'CERTS_FAILED', `cannot issue certificates: ${errorMessage(e)}`);
    return EXIT.failed;
  }
}
