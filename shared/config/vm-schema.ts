// The `vms[]` part of the config schema (schema.ts): machine, disks and the per-VM port rules.
import { z } from 'zod';
import {
  checkDiskRules,
  DISK_ACCESS_MODES,
  DISK_BACKEND_TYPES,
  DISK_DEFAULTS,
  DISK_FORMATS,
  parseDiskSpec,
  type DiskConfig,
} from '../disk/index.js';
import { ConfigError } from '../errors.js';
import { refusedExtraArgs } from './extra-args.js';
import { bootSchema, consoleSchema, diskAttachmentSchema, extraArgsSchema } from './guest-schema.js';
import { nicsSchema } from './nic-schema.js';
import { name, nonEmpty, port } from './primitives.js';

/** colo-procedure.md: periodic checkpoints with vCPUs deadlock 7.2 under TCG; this delay keeps them out of a guest's life. */
export const TCG_GUEST_MIN_CHECKPOINT_DELAY_MS = 3_600_000;

const structuredDiskSchema = z.strictObject({
  target: nonEmpty,
  format: z.enum(DISK_FORMATS).default(DISK_DEFAULTS.format),
  vdev: nonEmpty.optional(),
  access: z.enum(DISK_ACCESS_MODES).default(DISK_DEFAULTS.access),
  backendType: z.enum(DISK_BACKEND_TYPES).default(DISK_DEFAULTS.backendType),
  colo: z.boolean().default(DISK_DEFAULTS.colo),
  coloParams: z.strictObject({ host: z.string().regex(/^[^:\s]+$/, 'must be a host without ":"'), port, exportName: nonEmpty }).optional(),
  activeDisk: nonEmpty.optional(),
  hiddenDisk: nonEmpty.optional(),
  device: diskAttachmentSchema.optional(),
});

/**
 * Each item is an xl-style string or the structured form; both end as a
 * DiskConfig checked by the same rules. Items are dispatched by hand rather than
 * by z.union so each item reports its own errors, with its index in the message.
 */
const disksSchema = z
  .array(z.unknown())
  .min(1, 'a VM needs at least one disk')
  .transform((items, ctx): DiskConfig[] => {
    const disks: DiskConfig[] = [];
    /** Item indexes whose colo was left to the default (neither colo nor no-colo / colo: false). */
    const implicit = new Set<number>();
    items.forEach((item, i) => {
      if (typeof item === 'string' && !item.split(',').some((t) => t.trim() === 'colo' || t.trim() === 'no-colo')) implicit.add(i);
      if (typeof item === 'object' && item !== null && !Array.isArray(item) && !('colo' in item)) implicit.add(i);
      if (typeof item === 'string') {
        try {
          disks.push(parseDiskSpec(item, i));
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          for (const issue of e.issues) {
            ctx.issues.push({ code: 'custom', input: item, path: issue.path ? [i, issue.path] : [i], message: issue.message });
          }
        }
        return;
      }
      if (typeof item !== 'object' || item === null || Array.isArray(item)) {
        ctx.issues.push({ code: 'custom', input: item, path: [i], message: 'must be a disk spec string or a disk mapping' });
        return;
      }
      const parsed = structuredDiskSchema.safeParse(item, { reportInput: true });
      if (!parsed.success) {
        // Re-raised as they are, so unknown keys and enum values read like any other.
        for (const issue of parsed.error.issues) {
          ctx.issues.push({ ...issue, path: [i, ...issue.path] } as (typeof ctx.issues)[number]);
        }
        return;
      }
      const disk = parsed.data as DiskConfig;
      const ruleIssues = checkDiskRules(disk, i, 'structured');
      for (const r of ruleIssues) ctx.issues.push({ code: 'custom', input: item, path: [i, r.field], message: r.message });
      disks.push(disk);
    });
    // On a VM that replicates some disks, a disk that is silently not replicated loses its writes at failover.
    if (disks.some((d) => d.colo)) {
      for (const i of implicit) {
        ctx.issues.push({
          code: 'custom',
          input: items[i],
          path: [i],
          message: `disk ${i}: this VM replicates other disks, but this one says neither colo nor no-colo: its writes would not reach the secondary and would be lost at a failover; add no-colo (or colo: false) if that is what you want`,
        });
      }
    }
    return disks;
  });

const machineSchema = z
  .strictObject({
    /** `auto`, or a qemu machine type such as pc, q35 or none. */
    type: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be auto or a qemu machine type').default('auto'),
    accelerator: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    /** 0 means one vCPU under KVM and none under TCG. */
    vcpus: z.int().min(0).default(0),
    /** `-cpu`; qemu's default model when absent. Both nodes need a CPU that offers it (COLO migrates vCPU state). */
    cpu: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+=,-]*$/, 'must be a qemu CPU model (e.g. host, max, EPYC)').optional(),
  })
  .prefault({});

export const vmSchema = z
  .strictObject({
    name,
    memoryMiB: z.int().min(1),
    machine: machineSchema,
    /** Listens on whichever node is secondary. */
    migrationPort: port,
    /**
     * How the COLO stream crosses between the hosts: `relay` (qemu to a unix
     * socket, socat with TCP_NODELAY both ends: ~8 ms a checkpoint) or `tcp`
     * (qemu's own socket, Nagle on: ~88 ms a checkpoint on 7.2).
     */
    migrationChannel: z.enum(['relay', 'tcp']).default('relay'),
    /** x-checkpoint-delay. */
    checkpointDelayMs: z.int().min(10).default(200),
    /**
     * Skip the first protection's full copy of every COLO disk onto the
     * secondary: only for an operator who knows both images are identical
     * (a wrong guess is silent data loss at the next failover).
     */
    assumeIdentical: z.boolean().default(false),
    /**
     * Let a guest with vCPUs run under TCG with periodic checkpoints pushed out
     * (checkpointDelayMs >= 3600000): entering COLO and failover work on 7.2
     * there, periodic checkpoints deadlock. For tests and trials without KVM.
     */
    tcgGuestWithoutCheckpoints: z.boolean().default(false),
    boot: bootSchema,
    console: consoleSchema,
    extraArgs: extraArgsSchema,
    disks: disksSchema,
    nics: nicsSchema,
  })
  .superRefine((vm, ctx) => {
    const tcgGuestOk = vm.tcgGuestWithoutCheckpoints && vm.checkpointDelayMs >= TCG_GUEST_MIN_CHECKPOINT_DELAY_MS;
    if (vm.tcgGuestWithoutCheckpoints && !tcgGuestOk) {
      ctx.addIssue({
        code: 'custom',
        path: ['checkpointDelayMs'],
        message: `tcgGuestWithoutCheckpoints needs checkpointDelayMs >= ${TCG_GUEST_MIN_CHECKPOINT_DELAY_MS} (no periodic checkpoint may run), got ${vm.checkpointDelayMs}`,
      });
    }
    // Only an explicit tcg can be judged here; `auto` is resolved against /dev/kvm at start.
    const m = vm.machine;
    if (m.accelerator === 'tcg' && !tcgGuestOk && (m.vcpus > 0 || !['auto', 'none'].includes(m.type))) {
      ctx.addIssue({
        code: 'custom',
        path: ['machine'],
        message:
          "Debian's QEMU 7.2 deadlocks at the first COLO checkpoint under TCG when the VM has vCPUs; " +
          'use accelerator kvm, or machine type none with vcpus 0, or tcgGuestWithoutCheckpoints with checkpointDelayMs >= 3600000',
      });
    }
    for (const r of refusedExtraArgs(vm.extraArgs)) ctx.addIssue({ code: 'custom', path: ['extraArgs', r.index], message: r.message });
    const macs = new Map<string, number>();
    vm.nics.forEach((n, i) => {
      const seen = macs.get(n.mac);
      if (seen !== undefined) ctx.addIssue({ code: 'custom', path: ['nics', i, 'mac'], message: `MAC ${n.mac} is also NIC ${seen}'s` });
      macs.set(n.mac, i);
      if (n.model === 'none' && m.type !== 'none') ctx.addIssue({ code: 'custom', path: ['nics', i, 'model'], message: 'model none (no guest NIC) is only for machine type none' });
      // Without the proxy the secondary's guest output leaves by its own netdev: on a tap that is the real network, beside the primary's, with the same MAC.
      if (!n.proxy && n.netdev.type === 'tap') {
        ctx.addIssue({
          code: 'custom',
          path: ['nics', i, 'proxy'],
          message: "an unproxied NIC on a tap netdev would put the secondary guest's packets on the network beside the primary's, with the same MAC: give it a proxy (mirrorPort, comparePort), or use a user or socket netdev",
        });
      }
      // A miscompare forces a checkpoint, and a checkpoint with vCPUs deadlocks 7.2 under TCG.
      if (n.proxy && tcgGuestOk) ctx.addIssue({ code: 'custom', path: ['nics', i, 'proxy'], message: 'a proxied NIC forces checkpoints on miscompares, which deadlock QEMU 7.2 under TCG with vCPUs: leave it unproxied (proxy: null) or use KVM' });
    });
    let first: { index: number; host: string; port: number } | undefined;
    const exportNames = new Map<string, number>();
    vm.disks.forEach((d, i) => {
      if (!d.colo || !d.coloParams) return;
      const { host: h, port: p, exportName } = d.coloParams;
      const path = ['disks', i, 'coloParams'];
      // One nbd-server per qemu: every COLO disk of a VM is exported from the same host:port.
      if (first === undefined) first = { index: i, host: h, port: p };
      else if (first.host !== h || first.port !== p) {
        ctx.addIssue({
          code: 'custom',
          path,
          message: `disk ${i}: NBD address ${h}:${p} differs from disk ${first.index}'s ${first.host}:${first.port}; all COLO disks of a VM share one NBD server`,
        });
      }
      if (p === vm.migrationPort) {
        ctx.addIssue({ code: 'custom', path, message: `disk ${i}: NBD port ${p} is also the migrationPort` });
      }
      const seen = exportNames.get(exportName);
      if (seen !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: `disk ${i}: export name '${exportName}' is also used by disk ${seen}` });
      } else exportNames.set(exportName, i);
    });
  });

export function nbdPortOf(vm: { disks: readonly DiskConfig[] }): number | undefined {
  return vm.disks.find((d) => d.colo && d.coloParams)?.coloParams?.port;
}
