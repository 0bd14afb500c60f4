import { z } from 'zod';
import { fenceRuleViolation } from './timing-rules.js';
import { absolutePath, host, name, natsServerUrl, nonEmpty, positiveMs } from './primitives.js';
import { vmSchema } from './vm-schema.js';

export { nbdPortOf } from './vm-schema.js';

const natsSchema = z
  .strictObject({
    servers: z.array(natsServerUrl).min(1, 'list at least one NATS server'),
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

/**
 * The data channels between the hosts (NBD exports, the COLO stream): mutual
 * TLS with one CA per pair by default. `off` only for benchmarks or a
 * replication network nobody else can reach; status and dashboard say so.
 */
const replicationSchema = z
  .strictObject({
    // YAML 1.2 reads `off` as a string and `false` as a boolean: both mean off.
    tls: z.union([z.enum(['on', 'off']), z.boolean().transform((b) => (b ? 'on' : 'off'))]).default('on'),
    /** The pair's CA and each node's certificate and key (`colo-ft certs init` writes them); default /etc/colo-ft/pki/PAIR. */
    pkiDir: absolutePath.optional(),
  })
  .prefault({});

const qemuSchema = z
  .strictObject({
    /** Only for QEMU 10.0/10.1 builds that carry "migration: Fix transition to COLO state from precopy". */
    coloFixBackported: z.boolean().default(false),
  })
  .prefault({});

export const configSchema = z
  .strictObject({
    pair: name,
    qemu: qemuSchema,
    nats: natsSchema,
    nodes: nodesSchema,
    timings: timingsSchema,
    failover: failoverSchema,
    restore: restoreSchema,
    replication: replicationSchema,
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
      if (cfg.replication.tls === 'on' && vm.migrationChannel === 'tcp') {
        ctx.addIssue({
          code: 'custom',
          path: ['vms', v, 'migrationChannel'],
          message: `VM ${vm.name}: the tcp channel carries the COLO stream without TLS; use relay (mutual TLS on the hop between the hosts) or set replication.tls: off`,
        });
      }
      const fence = fenceRuleViolation(cfg.timings.heartbeatTimeoutMs, vm.checkpointDelayMs);
      if (fence) ctx.addIssue({ code: 'custom', path: ['vms', v, 'checkpointDelayMs'], message: `VM ${vm.name}: ${fence}` });
      claim(vm.migrationPort, `the migrationPort of VM ${vm.name}`, ['vms', v, 'migrationPort']);
      vm.nics.forEach((n, i) => {
        if (!n.proxy) return;
        claim(n.proxy.mirrorPort, `the proxy mirrorPort of VM ${vm.name} NIC ${i}`, ['vms', v, 'nics', i, 'proxy', 'mirrorPort']);
        claim(n.proxy.comparePort, `the proxy comparePort of VM ${vm.name} NIC ${i}`, ['vms', v, 'nics', i, 'proxy', 'comparePort']);
      });
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
export type ReplicationConfig = Config['replication'];
