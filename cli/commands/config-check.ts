import { loadConfig } from '../../shared/config/index.js';
import { ConfigError } from '../../shared/errors.js';
import { EXIT } from '../exit-codes.js';

export function runConfigCheck(file: string, o: { json?: boolean }): number {
  try {
    const config = loadConfig(file);
    if (o.json) console.log(JSON.stringify({ ok: true, pair: config.pair, vms: config.vms.map((v) => v.name) }));
    else console.log(`${file}: ok (pair ${config.pair}, ${config.vms.length} VM${config.vms.length === 1 ? '' : 's'}: ${config.vms.map((v) => v.name).join(', ')})`);
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
