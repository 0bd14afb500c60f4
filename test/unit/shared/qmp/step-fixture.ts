import type { Config } from '../../../../shared/config/index.js';
import { pairConfigWithDisks } from '../pair-config-fixture.js';
import { QmpCommandError } from '../../../../shared/errors.js';
import type { Answer, Sent } from './recording-qmp.js';

/** Two COLO disks around a plain one: the plain disk must never show up in the traffic. */
export function stepsConfig(): Config {
  const colo = (i: number): string => `format=raw,target=d${i}.img,colo,colo-params=127.0.0.2:9101:exportname=d${i},active-disk=a${i}.qcow2,hidden-disk=h${i}.qcow2`;
  return pairConfigWithDisks([colo(0), 'format=raw,target=p1.img,no-colo', colo(2)], { betaAddress: '127.0.0.2', fileName: 'steps.yaml' });
}

export const peer = {
  node: 'beta',
  migrationUri: 'tcp:127.0.0.2:9100',
  nbd: { host: '127.0.0.2', port: 9101 },
  disks: [
    { index: 0, exportName: 'd0', sizeBytes: 1 },
    { index: 2, exportName: 'd2', sizeBytes: 1 },
  ],
};

/** A qemu out of COLO and running, with no block job, that refuses the commands in `refuses` as "not there". */
export function quietQemu(o: { refuses?: readonly string[]; fail?: Partial<Record<string, Error>> } = {}): Answer {
  return (s: Sent) => {
    const command = 'execute' in s ? s.execute : 'oob' in s ? s.oob : s.hmp.split(' ')[0]!;
    const failure = o.fail?.[command];
    if (failure) return failure;
    if (o.refuses?.includes(command)) return 'hmp' in s ? `Device '${command}' not found` : new QmpCommandError(command, 'GenericError', 'not there');
    if (command === 'query-colo-status') return { mode: 'none', reason: 'request' };
    if (command === 'query-status') return { running: true, status: 'running' };
    if (command === 'query-block-jobs') return [];
    return 'hmp' in s ? '' : {};
  };
}
