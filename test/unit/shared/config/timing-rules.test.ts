import { describe, expect, it } from 'vitest';
import { FENCE_ACTION_MS, fenceRuleViolation, primaryFenceBoundMs, takeoverVetoMs } from '../../../../shared/config/index.js';
import { parseConfigText } from '../../../../shared/config/index.js';
import { ConfigError } from '../../../../shared/errors.js';

describe('NATS-outage timing rule: the primary fences before its secondary may take over', () => {
  it('bounds are formulas of the configured timings', () => {
    expect(primaryFenceBoundMs(200)).toBe(500);
    expect(takeoverVetoMs(500, 200)).toBe(600);
    expect(takeoverVetoMs(2_000, 200)).toBe(2_000);
    expect(FENCE_ACTION_MS).toBe(100);
  });

  it.each([
    [500, 200, true],
    [500, 100, true],
    [300, 100, false],
    [400, 100, true],
    [2_000, 1_000, true],
  ])('heartbeatTimeoutMs %i, checkpointDelayMs %i: holds %s', (hb, delay, holds) => {
    const v = fenceRuleViolation(hb, delay);
    expect(v === null).toBe(holds);
    if (!holds) expect(v).toMatch(/raise timings.heartbeatTimeoutMs to at least \d+/);
  });

  it('config check refuses a config that breaks it, naming the VM path', () => {
    const text = `
pair: p
nats: { servers: [nats://127.0.0.1:4222] }
nodes:
  - { name: a, address: 10.0.0.1, initialRole: primary, runtimeDir: /run/a, imageDir: /img/a }
  - { name: b, address: 10.0.0.2, initialRole: secondary, runtimeDir: /run/b, imageDir: /img/b }
timings: { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 300 }
vms:
  - name: vm1
    memoryMiB: 64
    migrationPort: 9100
    checkpointDelayMs: 60
    disks: ["format=raw,target=d.img,colo,colo-params=10.0.0.2:9101:exportname=d0,active-disk=a.qcow2,hidden-disk=h.qcow2"]
`;
    let err: unknown;
    try {
      parseConfigText(text, 'pair.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/vms\[0\]\.checkpointDelayMs|vms\.0\.checkpointDelayMs/);
    expect(String((err as Error).message)).toMatch(/fences 320 ms/);
  });
});
