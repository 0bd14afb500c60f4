import { describe, it, expect } from 'vitest';
import { ConfigError } from '../../../../shared/errors.js';
import { buildQemuArgs, resolveAccelerator, resolveMachineType } from '../../../../shared/qemu/qemu-args.js';

function configIssue(fn: () => unknown): { path: string; message: string } {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const [issue] = (e as ConfigError).issues;
    if (!issue) throw new Error('ConfigError without issues');
    return issue;
  }
  throw new Error('expected a ConfigError');
}

describe('resolveAccelerator', () => {
  it.each([
    ['auto', true, 'kvm'],
    ['auto', false, 'tcg'],
    ['kvm', true, 'kvm'],
    ['tcg', true, 'tcg'],
    ['tcg', false, 'tcg'],
  ] as const)('%s with kvmUsable=%s -> %s', (requested, kvmUsable, expected) => {
    expect(resolveAccelerator(requested, kvmUsable)).toBe(expected);
  });

  it('refuses kvm when /dev/kvm is not usable', () => {
    const issue = configIssue(() => resolveAccelerator('kvm', false));
    expect(issue.path).toBe('machine.accelerator');
    expect(issue.message).toContain('/dev/kvm is not usable');
  });
});

describe('resolveMachineType', () => {
  it.each([
    ['auto', 'kvm', 0, { machineType: 'pc', vcpus: 1 }],
    ['auto', 'kvm', 4, { machineType: 'pc', vcpus: 4 }],
    ['auto', 'tcg', 0, { machineType: 'none', vcpus: 0 }],
    ['q35', 'kvm', 0, { machineType: 'q35', vcpus: 1 }],
    ['q35', 'kvm', 2, { machineType: 'q35', vcpus: 2 }],
    ['none', 'kvm', 0, { machineType: 'none', vcpus: 0 }],
    ['none', 'tcg', 0, { machineType: 'none', vcpus: 0 }],
  ] as const)('%s under %s with %s vcpus', (requested, accel, vcpus, expected) => {
    expect(resolveMachineType(requested, accel, vcpus)).toEqual(expected);
  });

  it.each([
    ['auto', 1],
    ['pc', 0],
    ['q35', 2],
    ['none', 1],
  ] as const)('refuses %s with %s vcpus under TCG, explaining why', (requested, vcpus) => {
    const issue = configIssue(() => resolveMachineType(requested, 'tcg', vcpus));
    expect(issue.path).toBe('machine');
    expect(issue.message).toContain("Debian's QEMU 7.2 deadlocks at the first COLO checkpoint under TCG");
    expect(issue.message).toContain('use accelerator kvm, or machine type none');
  });

  it('lets a guest with vCPUs run under TCG only with periodic checkpoints pushed out to an hour', () => {
    const optIn = { tcgGuestWithoutCheckpoints: true, checkpointDelayMs: 3_600_000 };
    expect(resolveMachineType('auto', 'tcg', 0, optIn)).toEqual({ machineType: 'pc', vcpus: 1 });
    expect(resolveMachineType('q35', 'tcg', 2, optIn)).toEqual({ machineType: 'q35', vcpus: 2 });
    expect(configIssue(() => resolveMachineType('pc', 'tcg', 1, { ...optIn, checkpointDelayMs: 200 })).path).toBe('machine');
    expect(configIssue(() => resolveMachineType('pc', 'tcg', 1, { ...optIn, tcgGuestWithoutCheckpoints: false })).path).toBe('machine');
  });

  it('refuses vCPUs on machine none under KVM', () => {
    expect(configIssue(() => resolveMachineType('none', 'kvm', 1)).path).toBe('machine.vcpus');
  });

  it('refuses a negative vcpu count', () => {
    expect(configIssue(() => resolveMachineType('pc', 'kvm', -1)).path).toBe('machine.vcpus');
  });
});

describe('buildQemuArgs', () => {
  const base = {
    name: 'vm1',
    memoryMiB: 64,
    qmpSocket: '/run/colo-ft/alpha/vm1.qmp',
    oobQmpSocket: '/run/colo-ft/alpha/vm1.oob.qmp',
    pidFile: '/run/colo-ft/alpha/vm1.pid',
    deviceArgs: [['-drive', 'if=none,id=colo-disk0,driver=raw,file.driver=file,file.filename=/img/d0.img']],
  };

  it('TCG, machine none, no vCPUs', () => {
    expect(buildQemuArgs({ ...base, accel: 'tcg', machineType: 'none', vcpus: 0 })).toEqual([
      '-name',
      'vm1',
      '-machine',
      'none,accel=tcg',
      '-m',
      '64',
      '-nodefaults',
      '-display',
      'none',
      '-qmp',
      'unix:/run/colo-ft/alpha/vm1.qmp,server=on,wait=off',
      '-chardev',
      'socket,id=qmp-oob,path=/run/colo-ft/alpha/vm1.oob.qmp,server=on,wait=off',
      '-mon',
      'chardev=qmp-oob,mode=control',
      '-pidfile',
      '/run/colo-ft/alpha/vm1.pid',
      '-drive',
      'if=none,id=colo-disk0,driver=raw,file.driver=file,file.filename=/img/d0.img',
    ]);
  });

  it('KVM with vCPUs, as a secondary waiting for the incoming stream', () => {
    expect(
      buildQemuArgs({ ...base, accel: 'kvm', machineType: 'pc', vcpus: 2, deviceArgs: [], incoming: 'tcp:127.0.0.1:9100' }),
    ).toEqual([
      '-name',
      'vm1',
      '-machine',
      'pc,accel=kvm',
      '-smp',
      '2',
      '-m',
      '64',
      '-nodefaults',
      '-display',
      'none',
      '-qmp',
      'unix:/run/colo-ft/alpha/vm1.qmp,server=on,wait=off',
      '-chardev',
      'socket,id=qmp-oob,path=/run/colo-ft/alpha/vm1.oob.qmp,server=on,wait=off',
      '-mon',
      'chardev=qmp-oob,mode=control',
      '-pidfile',
      '/run/colo-ft/alpha/vm1.pid',
      '-incoming',
      'tcp:127.0.0.1:9100',
    ]);
  });

  it('escapes commas in socket paths', () => {
    const args = buildQemuArgs({ ...base, accel: 'tcg', machineType: 'none', vcpus: 0, qmpSocket: '/r/a,b', oobQmpSocket: '/r/c,d' });
    expect(args).toContain('unix:/r/a,,b,server=on,wait=off');
    expect(args).toContain('socket,id=qmp-oob,path=/r/c,,d,server=on,wait=off');
  });
});
