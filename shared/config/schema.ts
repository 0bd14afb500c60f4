import { z } from 'zod';
import { fenceRuleViolation } from './timing-rules.js';
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

const NAME_RE = /^[a-z0-9-]+$/;
const name = z.string().regex(NAME_RE, 'must match [a-z0-9-]+ (it is used in NATS subjects)');
const nonEmpty = z.string().min(1, 'must not be empty');
const absolutePath = nonEmpty.refine((p) => p.startsWith('/'), 'must be an absolute path');
const port = z.int().min(1).max(65535);
// Host names and IPv4 only: colo-params (HOST:PORT:...) cannot carry an IPv6 address.
const host = z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a host name or IPv4 address');
const positiveMs = z.int().min(1);

const natsSchema = z
  .strictObject({
    servers: z.array(nonEmpty).min(1, 'list at least one NATS server'),
    credsFile: nonEmpty.optional(),
    user: nonEmpty.optional(),
    password: nonEmpty.optional(),
    token: nonEmpty.optional(),
    tls: z
      .strictObject({ caFile: nonEmpty.optional(), certFile: nonEmpty.optional(), keyFile: nonEmpty.optional() })
      .optional(),
    /** JetStream replicas of the lease bucket: 1 for a single server, 3 for a three-node cluster with a witness. */
    kvReplicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(1),
  })
  .superRefine((n, ctx) => {
    if ((n.user === undefined) !== (n.password === undefined)) {
      ctx.addIssue({ code: 'custom', path: [n.user === undefined ? 'user' : 'password'], message: 'user and password go together' });
    }
    const methods = [n.credsFile && 'credsFile', n.user && 'user/password', n.token && 'token'].filter(Boolean);
    if (methods.length > 1) {
      ctx.addIssue({ code: 'custom', path: [], message: `choose one way to authenticate, not ${methods.join(' and ')}` });
    }
    if (n.tls && (n.tls.certFile === undefined) !== (n.tls.keyFile === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: 'certFile and keyFile go together' });
    }
  });

const nodeSchema = z.strictObject({
  name,
  /** Host used for migration and NBD when this node is secondary. */
  address: host,
  initialRole: z.enum(['primary', 'secondary']),
  runtimeDir: absolutePath,
  imageDir: absolutePath,
});

const nodesSchema = z
  .array(nodeSchema)
  .length(2, 'must list exactly 2 nodes')
  .superRefine((nodes, ctx) => {
    // The length issue is not aborting; the pair rules below would only add noise.
    if (nodes.length !== 2) return;
    nodes.forEach((n, i) => {
      if (nodes.findIndex((o) => o.name === n.name) !== i) {
        ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `node name '${n.name}' is used twice` });
      }
    });
    const [a, b] = nodes;
    if (a && b && a.address === b.address) {
      // Two nodes on one host (a test pair) would otherwise share sockets and images.
      for (const dir of ['runtimeDir', 'imageDir'] as const) {
        if (a[dir] === b[dir]) {
          ctx.addIssue({ code: 'custom', path: [1, dir], message: `nodes on the same address need different ${dir}s` });
        }
      }
    }
    const roles = nodes.map((n) => n.initialRole).sort().join(',');
    if (roles !== 'primary,secondary') {
      ctx.addIssue({
        code: 'custom',
        path: [1, 'initialRole'],
        message: `exactly one node must be initialRole primary and one secondary (got ${roles})`,
      });
    }
  });

const timingsSchema = z
  .strictObject({
    heartbeatIntervalMs: positiveMs.default(100),
    heartbeatTimeoutMs: positiveMs.default(500),
    qmpTimeoutMs: positiveMs.default(3000),
    qmpLongTimeoutMs: positiveMs.default(30000),
    /** How long a node waits for its peer, and for COLO to come up. */
    protectTimeoutMs: positiveMs.default(60000),
    leaseTtlMs: positiveMs.default(1500),
    /** How often each node re-reads qemu's block graph to prove its COLO disks replicate (four read-only QMP queries). */
    auditIntervalMs: positiveMs.default(2000),
  })
  .superRefine((t, ctx) => {
    if (t.heartbeatTimeoutMs < 3 * t.heartbeatIntervalMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['heartbeatTimeoutMs'],
        message: `must be >= 3 x heartbeatIntervalMs (${3 * t.heartbeatIntervalMs}), got ${t.heartbeatTimeoutMs}`,
      });
    }
  })
  .prefault({});

const failoverSchema = z
  .strictObject({
    policy: z.enum(['strict', 'relaxed']).default('strict'),
  })
  .prefault({});

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
    items.forEach((item, i) => {
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
    return disks;
  });

const machineSchema = z
  .strictObject({
    /** `auto`, or a qemu machine type such as pc, q35 or none. */
    type: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'must be auto or a qemu machine type').default('auto'),
    accelerator: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    /** 0 means one vCPU under KVM and none under TCG. */
    vcpus: z.int().min(0).default(0),
  })
  .superRefine((m, ctx) => {
    // Only an explicit tcg can be judged here; `auto` is resolved against /dev/kvm at start.
    if (m.accelerator === 'tcg' && (m.vcpus > 0 || !['auto', 'none'].includes(m.type))) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message:
          "Debian's QEMU 7.2 deadlocks at the first COLO checkpoint under TCG when the VM has vCPUs; " +
          'use accelerator kvm, or machine type none with vcpus 0',
      });
    }
  })
  .prefault({});

const vmSchema = z
  .strictObject({
    name,
    memoryMiB: z.int().min(1),
    machine: machineSchema,
    /** Listens on whichever node is secondary. */
    migrationPort: port,
    /** x-checkpoint-delay. */
    checkpointDelayMs: z.int().min(10).default(200),
    /**
     * Skip the first protection's full copy of every COLO disk onto the
     * secondary: only for an operator who knows both images are identical
     * (a wrong guess is silent data loss at the next failover).
     */
    assumeIdentical: z.boolean().default(false),
    disks: disksSchema,
  })
  .superRefine((vm, ctx) => {
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

const restoreSchema = z
  .strictObject({
    /** Restore protection by itself once the lost node's agent answers again. */
    auto: z.boolean().default(true),
    /** drive-mirror speed limit during resync, bytes per second; 0 = unlimited. Changeable while it runs. */
    bandwidthBytesPerSec: z.int().min(0).default(0),
    retryBaseMs: z.int().min(10).default(1_000),
    retryMaxMs: z.int().min(10).default(30_000),
    /**
     * When the primary's audit finds a disk not replicating twice in a row while it
     * holds the lease and the peer is healthy, drop the secondary so a restore
     * (auto, or `colo-ft restore`) resyncs it; false leaves it degraded and visible.
     */
    repair: z.boolean().default(true),
  })
  .superRefine((r, ctx) => {
    if (r.retryMaxMs < r.retryBaseMs) ctx.addIssue({ code: 'custom', path: ['retryMaxMs'], message: 'must be at least retryBaseMs' });
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    pair: name,
    nats: natsSchema,
    nodes: nodesSchema,
    timings: timingsSchema,
    failover: failoverSchema,
    restore: restoreSchema,
    vms: z
      .array(vmSchema)
      .min(1, 'list at least one VM')
      .superRefine((vms, ctx) => {
        vms.forEach((vm, i) => {
          if (vms.findIndex((o) => o.name === vm.name) !== i) {
            ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `VM name '${vm.name}' is used twice` });
          }
        });
      }),
  })
  .superRefine((cfg, ctx) => {
    // Bounds issues do not abort parsing; without both nodes the address rule is noise.
    if (cfg.nodes.length !== 2) return;
    const addresses = cfg.nodes.map((n) => n.address);
    // Every VM's secondary listens on the same host, so its ports must not collide.
    const portOwners = new Map<number, string>();
    const claim = (p: number, owner: string, path: (string | number)[]): void => {
      const other = portOwners.get(p);
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path, message: `port ${p} is already used by ${other}` });
      } else portOwners.set(p, owner);
    };
    cfg.vms.forEach((vm, v) => {
      const fence = fenceRuleViolation(cfg.timings.heartbeatTimeoutMs, vm.checkpointDelayMs);
      if (fence) ctx.addIssue({ code: 'custom', path: ['vms', v, 'checkpointDelayMs'], message: `VM ${vm.name}: ${fence}` });
      claim(vm.migrationPort, `the migrationPort of VM ${vm.name}`, ['vms', v, 'migrationPort']);
      let nbdClaimed = false;
      vm.disks.forEach((d, i) => {
        if (!d.colo || !d.coloParams) return;
        const path = ['vms', v, 'disks', i, 'coloParams'];
        if (!addresses.includes(d.coloParams.host)) {
          ctx.addIssue({
            code: 'custom',
            path,
            message: `disk ${i}: NBD host ${d.coloParams.host} is not the address of a node (${addresses.join(', ')})`,
          });
        }
        // The same port on several disks of one VM is the shared NBD server, not a clash.
        if (!nbdClaimed && d.coloParams.port !== vm.migrationPort) {
          claim(d.coloParams.port, `the NBD server of VM ${vm.name}`, path);
          nbdClaimed = true;
        }
      });
    });
  });

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type NodeConfig = Config['nodes'][number];
export type VmConfig = Config['vms'][number];
export type MachineConfig = VmConfig['machine'];
export type TimingsConfig = Config['timings'];
export type NatsConfig = Config['nats'];
export type NodeRole = NodeConfig['initialRole'];
export type RestoreConfig = Config['restore'];
