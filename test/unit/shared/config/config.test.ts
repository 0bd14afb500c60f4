import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../../../shared/errors.js';
import { edit, expectIssue, issuesOf, minimal } from './config-fixture.js';
import {
  formatConfigPath,
  loadConfig,
  nbdPortOf,
  parseConfigText,
  type Config,
} from '../../../../shared/config/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../../deploy/example-pair.yaml', import.meta.url));

describe('formatConfigPath', () => {
  it('joins keys with dots and indexes with brackets', () => {
    expect(formatConfigPath(['vms', 0, 'disks', 1])).toBe('vms[0].disks[1]');
    expect(formatConfigPath(['timings', 'heartbeatTimeoutMs'])).toBe('timings.heartbeatTimeoutMs');
    expect(formatConfigPath(['vms', 0, 'disks', 1, 'colo-params'])).toBe('vms[0].disks[1].colo-params');
    expect(formatConfigPath([])).toBe('');
  });
});

describe('valid configs', () => {
  it('parses the example in deploy/', () => {
    const cfg = loadConfig(EXAMPLE);
    expect(cfg.pair).toBe('demo');
    expect(cfg.nodes.map((n) => n.name)).toEqual(['alpha', 'beta']);
    const [vm] = cfg.vms;
    expect(vm?.disks).toHaveLength(2);
    expect(vm?.disks[0]).toEqual({
      target: 'vm1-disk0.img',
      format: 'raw',
      access: 'rw',
      backendType: 'qdisk',
      colo: true,
      coloParams: { host: '127.0.0.1', port: 9101, exportName: 'vm1-d0' },
      activeDisk: 'vm1-active0.qcow2',
      hiddenDisk: 'vm1-hidden0.qcow2',
    });
    expect(vm?.disks[1]?.coloParams?.exportName).toBe('vm1-d1');
    expect(vm && nbdPortOf(vm)).toBe(9101);
  });

  it('applies every default', () => {
    const cfg = parseConfigText(stringify(minimal()));
    expect(cfg.timings).toEqual({
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 500,
      qmpTimeoutMs: 3000,
      qmpLongTimeoutMs: 30000,
      protectTimeoutMs: 60000,
      leaseTtlMs: 1500,
      auditIntervalMs: 2000,
    });
    expect(cfg.failover).toEqual({ policy: 'strict' });
    expect(cfg.restore).toEqual({ auto: true, bandwidthBytesPerSec: 0, retryBaseMs: 1000, retryMaxMs: 30000, repair: true });
    const vm = cfg.vms[0];
    expect(vm?.machine).toEqual({ type: 'auto', accelerator: 'auto', vcpus: 0 });
    expect(vm?.boot).toEqual({ firmware: 'seabios' });
    expect(vm?.console).toEqual({ serial: 'log', vnc: false, vncDisplay: 0 });
    expect(vm?.extraArgs).toEqual([]);
    expect(vm?.tcgGuestWithoutCheckpoints).toBe(false);
    expect(vm?.checkpointDelayMs).toBe(200);
    // The first protection copies the disks unless the operator vouches they are identical.
    expect(vm?.assumeIdentical).toBe(false);
    expect(vm?.disks[1]).toEqual({
      target: 'd1.img',
      format: 'raw',
      access: 'rw',
      backendType: 'qdisk',
      colo: true,
      coloParams: { host: '10.0.0.2', port: 9101, exportName: 'd1' },
      activeDisk: 'a1.qcow2',
      hiddenDisk: 'h1.qcow2',
    });
  });

  it('takes assumeIdentical, restore.repair and auditIntervalMs as given, and rejects bad ones', () => {
    const cfg = parseConfigText(
      stringify(
        edit((d) => {
          d.vms[0].assumeIdentical = true;
          d.restore = { repair: false };
          d.timings = { auditIntervalMs: 500 };
        }),
      ),
    );
    expect(cfg.vms[0]?.assumeIdentical).toBe(true);
    expect(cfg.restore.repair).toBe(false);
    expect(cfg.restore.auto).toBe(true);
    expect(cfg.timings.auditIntervalMs).toBe(500);
    expect(issuesOf(edit((d) => (d.vms[0].assumeIdentical = 'yes'))).some((i) => i.path === 'vms[0].assumeIdentical')).toBe(true);
    expect(issuesOf(edit((d) => (d.restore = { repair: 1 }))).some((i) => i.path === 'restore.repair')).toBe(true);
    expect(issuesOf(edit((d) => (d.timings = { auditIntervalMs: 0 }))).some((i) => i.path === 'timings.auditIntervalMs')).toBe(true);
  });

  it('fills defaults inside a partly given section', () => {
    const cfg = parseConfigText(stringify(edit((d) => (d.timings = { heartbeatIntervalMs: 50 }))));
    expect(cfg.timings.heartbeatIntervalMs).toBe(50);
    expect(cfg.timings.heartbeatTimeoutMs).toBe(500);
  });

  it('returns a deep-frozen object', () => {
    const cfg: Config = parseConfigText(stringify(minimal()));
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.vms)).toBe(true);
    expect(Object.isFrozen(cfg.vms[0]?.disks[0]?.coloParams)).toBe(true);
    expect(Object.isFrozen(cfg.nats.servers)).toBe(true);
    expect(() => {
      (cfg.timings as { leaseTtlMs: number }).leaseTtlMs = 1;
    }).toThrow(TypeError);
  });

  it('accepts plain and two-node-one-host setups', () => {
    const d = edit((x) => {
      x.vms[0].disks = ['plain.img'];
      x.nodes[1].address = '10.0.0.1';
    });
    expect(parseConfigText(stringify(d)).vms[0]?.disks[0]?.colo).toBe(false);
  });
});

describe('shape errors', () => {
  it('names an unknown key at its own path', () => {
    expectIssue(edit((d) => (d.timings = { heartbeatIntervalMS: 100 })), 'timings.heartbeatIntervalMS', "unknown key 'heartbeatIntervalMS'");
    expectIssue(edit((d) => (d.extra = 1)), 'extra', "unknown key 'extra'");
    expectIssue(edit((d) => (d.vms[0].disks[1].colo_params = 'x')), 'vms[0].disks[1].colo_params', 'unknown key');
    expectIssue(edit((d) => (d.nodes[0].role = 'primary')), 'nodes[0].role', 'unknown key');
    expectIssue(edit((d) => (d.vms[0].machine = { cpus: 1 })), 'vms[0].machine.cpus', 'unknown key');
    expectIssue(edit((d) => (d.nats.tls = { ca: '/x' })), 'nats.tls.ca', 'unknown key');
  });

  it('lists allowed enum values', () => {
    expectIssue(edit((d) => (d.failover = { policy: 'lenient' })), 'failover.policy', "must be one of strict, relaxed (got 'lenient')");
    expectIssue(edit((d) => (d.nodes[0].initialRole = 'master')), 'nodes[0].initialRole', 'must be one of primary, secondary');
    expectIssue(edit((d) => (d.vms[0].machine = { accelerator: 'hvf' })), 'vms[0].machine.accelerator', 'must be one of auto, kvm, tcg');
    expectIssue(edit((d) => (d.vms[0].disks[1].format = 'vmdk')), 'vms[0].disks[1].format', 'must be one of raw, qcow2');
  });

  it('reports missing and mistyped values', () => {
    expectIssue(edit((d) => delete d.pair), 'pair', 'is required');
    expectIssue(edit((d) => (d.vms[0].memoryMiB = '64')), 'vms[0].memoryMiB', "must be a number, got '64'");
    expectIssue(edit((d) => (d.vms[0].disks[1].colo = 'yes')), 'vms[0].disks[1].colo', 'must be a boolean');
    expectIssue(edit((d) => (d.pair = 'Demo_1')), 'pair', '[a-z0-9-]+');
    expectIssue(edit((d) => (d.nats.servers = [])), 'nats.servers', '');
    expectIssue(edit((d) => (d.vms[0].checkpointDelayMs = 5)), 'vms[0].checkpointDelayMs', '');
    expectIssue(edit((d) => (d.vms[0].migrationPort = 70000)), 'vms[0].migrationPort', '');
    expectIssue(edit((d) => (d.nodes[0].runtimeDir = 'run/a')), 'nodes[0].runtimeDir', 'absolute path');
    expectIssue(edit((d) => (d.vms[0].disks = [])), 'vms[0].disks', 'at least one disk');
    expectIssue(edit((d) => (d.vms[0].disks[0] = 42)), 'vms[0].disks[0]', 'disk spec string or a disk mapping');
    expectIssue(edit((d) => d.nodes.pop()), 'nodes', 'exactly 2 nodes');
    expect(issuesOf(edit((d) => d.nodes.pop())).map((i) => i.path)).toEqual(['nodes']);
  });

  it('reports a YAML syntax error with its line', () => {
    try {
      parseConfigText('pair: demo\nnats:\n  servers: [a\n', 'bad.yaml');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toContain('bad.yaml');
      expect((e as ConfigError).issues[0]?.message).toMatch(/YAML syntax error: line \d+, column \d+/);
    }
  });

  it('rejects duplicate YAML keys', () => {
    expect(() => parseConfigText('pair: a\npair: b\n')).toThrow(/YAML syntax error: line 2/);
  });

  it('rejects a document that is not a mapping', () => {
    expect(issuesOf('just text')).toEqual([{ path: '', message: "must be a mapping, got 'just text'" }]);
  });

  it('a missing file is a ConfigError naming the file', () => {
    const file = join(tmpdir(), 'colo-ft-does-not-exist.yaml');
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(/colo-ft-does-not-exist\.yaml: invalid configuration\n {2}cannot read config file/);
  });

  it('loads a file from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'colo-ft-config-'));
    const file = join(dir, 'pair.yaml');
    writeFileSync(file, stringify(minimal()));
    expect(loadConfig(file).vms[0]?.name).toBe('vm1');
  });
});

describe('disk errors', () => {
  it('surfaces disk spec errors at the disk path with the parser message', () => {
    expectIssue(
      edit((d) => (d.vms[0].disks[0] = 'target=d0.img,colo,colo-params=10.0.0.2:9101:exportname=d0,hidden-disk=h.qcow2')),
      'vms[0].disks[0].active-disk',
      'disk 0: needs active-disk=... for colo',
    );
    expectIssue(edit((d) => (d.vms[0].disks[0] = 'target=d0.img,colo-params=bad')), 'vms[0].disks[0].colo-params', 'colo-params is invalid');
    expectIssue(edit((d) => (d.vms[0].disks[0] = 'target=d0.img,speed=1')), 'vms[0].disks[0].speed', "unknown key 'speed'");
  });

  it('applies the same rules to the structured form', () => {
    expectIssue(edit((d) => delete d.vms[0].disks[1].activeDisk), 'vms[0].disks[1].activeDisk', 'disk 1: needs activeDisk for colo');
    expectIssue(edit((d) => delete d.vms[0].disks[1].coloParams), 'vms[0].disks[1].coloParams', 'disk 1: needs coloParams for colo');
    expectIssue(edit((d) => (d.vms[0].disks[1].backendType = 'phy')), 'vms[0].disks[1].backendType', 'COLO only works with the qdisk (QEMU) backend');
    expectIssue(edit((d) => (d.vms[0].disks[1].access = 'ro')), 'vms[0].disks[1].access', 'must be writable');
    expectIssue(edit((d) => (d.vms[0].disks[1].coloParams.port = 0)), 'vms[0].disks[1].coloParams.port', '');
    expectIssue(edit((d) => (d.vms[0].disks[1].coloParams.name = 'x')), 'vms[0].disks[1].coloParams.name', 'unknown key');
  });
});
