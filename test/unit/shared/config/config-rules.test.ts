import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { type ConfigError } from '../../../../shared/errors.js';
import { parseConfigText } from '../../../../shared/config/index.js';
import { edit, expectIssue, issuesOf, type Doc } from './config-fixture.js';

describe('cross-field rules', () => {
  it('heartbeatTimeoutMs >= 3 x heartbeatIntervalMs', () => {
    expectIssue(
      edit((d) => (d.timings = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 500 })),
      'timings.heartbeatTimeoutMs',
      'must be >= 3 x heartbeatIntervalMs (600)',
    );
    expect(parseConfigText(stringify(edit((d) => (d.timings = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 600 })))).timings.heartbeatTimeoutMs).toBe(600);
  });

  it('COLO disks of a VM share one NBD port', () => {
    expectIssue(edit((d) => (d.vms[0].disks[1].coloParams.port = 9102)), 'vms[0].disks[1].coloParams', 'disk 1: NBD address 10.0.0.2:9102 differs');
  });

  it('colo-params host must be a node address', () => {
    expectIssue(
      edit((d) => (d.vms[0].disks[0] = 'target=d0.img,colo,colo-params=10.9.9.9:9101:exportname=d0,active-disk=a,hidden-disk=h')),
      'vms[0].disks[0].coloParams',
      'NBD host 10.9.9.9 is not the address of a node',
    );
  });

  it('NBD port differs from migrationPort', () => {
    expectIssue(edit((d) => (d.vms[0].migrationPort = 9101)), 'vms[0].disks[0].coloParams', 'NBD port 9101 is also the migrationPort');
  });

  it('ports are unique across VMs', () => {
    const second = (migrationPort: number, nbdPort: number): Doc => ({
      name: 'vm2',
      memoryMiB: 64,
      migrationPort,
      disks: [`target=e.img,colo,colo-params=10.0.0.2:${nbdPort}:exportname=e0,active-disk=a,hidden-disk=h`],
    });
    expectIssue(edit((d) => d.vms.push(second(9100, 9201))), 'vms[1].migrationPort', 'port 9100 is already used by the migrationPort of VM vm1');
    expectIssue(edit((d) => d.vms.push(second(9200, 9101))), 'vms[1].disks[0].coloParams', 'port 9101 is already used by the NBD server of VM vm1');
    expectIssue(edit((d) => d.vms.push(second(9101, 9201))), 'vms[1].migrationPort', 'NBD server of VM vm1');
    expect(parseConfigText(stringify(edit((d) => d.vms.push(second(9200, 9201))))).vms).toHaveLength(2);
  });

  it('export names are unique within a VM', () => {
    expectIssue(edit((d) => (d.vms[0].disks[1].coloParams.exportName = 'd0')), 'vms[0].disks[1].coloParams', "export name 'd0' is also used by disk 0");
  });

  it('node and VM names are unique', () => {
    expectIssue(edit((d) => (d.nodes[1].name = 'alpha')), 'nodes[1].name', "node name 'alpha' is used twice");
    expectIssue(edit((d) => d.vms.push({ ...d.vms[0], migrationPort: 9300, disks: ['x.img'] })), 'vms[1].name', "VM name 'vm1' is used twice");
  });

  it('exactly one primary and one secondary', () => {
    expectIssue(edit((d) => (d.nodes[1].initialRole = 'primary')), 'nodes[1].initialRole', 'exactly one node must be initialRole primary and one secondary');
  });

  it('nodes on one address need their own directories', () => {
    expectIssue(
      edit((d) => {
        d.nodes[1].address = '10.0.0.1';
        d.nodes[1].imageDir = '/img/a';
      }),
      'nodes[1].imageDir',
      'different imageDirs',
    );
  });

  it('TCG with vCPUs is refused at load time', () => {
    expectIssue(edit((d) => (d.vms[0].machine = { accelerator: 'tcg', vcpus: 1 })), 'vms[0].machine', 'deadlocks at the first COLO checkpoint under TCG');
    expectIssue(edit((d) => (d.vms[0].machine = { accelerator: 'tcg', type: 'pc' })), 'vms[0].machine', 'machine type none');
  });

  it('NATS credentials: one method, user with password', () => {
    expectIssue(edit((d) => (d.nats.user = 'u')), 'nats.password', 'user and password go together');
    expectIssue(edit((d) => Object.assign(d.nats, { token: 't', credsFile: '/c' })), 'nats', 'choose one way to authenticate');
  });
});

describe('many errors at once', () => {
  it('reports every issue in one ConfigError', () => {
    const issues = issuesOf(
      edit((d) => {
        d.bogus = true;
        d.failover = { policy: 'x' };
        d.timings = { heartbeatIntervalMs: 300 };
        d.nodes[0].name = 'Alpha';
        d.vms[0].disks[0] = 'target=d0.img,colo';
        d.vms[0].disks[1].format = 'vmdk';
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(
      [
        'bogus',
        'failover.policy',
        'timings.heartbeatTimeoutMs',
        'nodes[0].name',
        'vms[0].disks[0].colo-params',
        'vms[0].disks[0].active-disk',
        'vms[0].disks[0].hidden-disk',
        'vms[0].disks[1].format',
      ].sort(),
    );
  });

  it('the error message lists every issue with its path', () => {
    try {
      parseConfigText(stringify(edit((d) => ((d.extra = 1), (d.failover = { policy: 'x' })))), 'pair.yaml');
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).message).toBe(
        "pair.yaml: invalid configuration\n  failover.policy: must be one of strict, relaxed (got 'x')\n  extra: unknown key 'extra'",
      );
      expect((e as ConfigError).recovery).toBe('fatal');
    }
  });
});

describe('a plain disk on a VM that replicates others must say so', () => {
  const plain = (extra: Record<string, unknown> | string) => edit((d) => d.vms[0].disks.push(extra));
  it('a spec string without colo or no-colo, and a mapping without colo, are refused with why', () => {
    expectIssue(plain('format=raw,target=scratch.img'), 'vms[0].disks[2]', 'would be lost at a failover; add no-colo (or colo: false)');
    expectIssue(plain({ target: 'scratch.img' }), 'vms[0].disks[2]', 'says neither colo nor no-colo');
  });
  it('no-colo and colo: false are accepted, and a VM with no COLO disk needs neither', () => {
    expect(parseConfigText(stringify(plain('format=raw,target=scratch.img,no-colo'))).vms[0]!.disks[2]!.colo).toBe(false);
    expect(parseConfigText(stringify(plain({ target: 'scratch.img', colo: false }))).vms[0]!.disks[2]!.colo).toBe(false);
    const noColo = edit((d) => (d.vms[0].disks = ['format=raw,target=only.img']));
    expect(parseConfigText(stringify(noColo)).vms[0]!.disks[0]!.colo).toBe(false);
  });
});
