// `vms[].nics`: guest NICs and their COLO network proxy ports.
import { z } from 'zod';
import { port } from './primitives.js';

const ifname = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'must be a network interface name (1-15 characters)');
const hostPort = z.string().regex(/^[A-Za-z0-9._-]*:[0-9]{1,5}$/, 'must be HOST:PORT');

const netdevSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('tap'), ifname: ifname.optional(), bridge: ifname.optional(), script: z.string().startsWith('/', 'must be an absolute path').optional() }),
  z.strictObject({ type: z.literal('user') }),
  z.strictObject({ type: z.literal('socket'), listen: hostPort.optional(), connect: hostPort.optional(), udp: hostPort.optional(), localaddr: hostPort.optional() }),
]);

export const nicSchema = z
  .strictObject({
    /** `none`: no guest NIC, the netdev gets a hub port as its peer (drive-only test VMs on `-machine none`). */
    model: z.enum(['virtio-net-pci', 'e1000', 'none']).default('virtio-net-pci'),
    /** Required and the same on both nodes: the guest must not see its NIC change at failover. */
    mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'must be a lower-case MAC address like 52:54:00:12:34:56'),
    netdev: netdevSchema,
    /** The secondary's listening ports for the COLO proxy; null: the NIC is not proxied (no packet compare). */
    proxy: z.strictObject({ mirrorPort: port, comparePort: port }).nullable().default(null),
  })
  .superRefine((n, ctx) => {
    if (n.proxy && n.proxy.mirrorPort === n.proxy.comparePort) ctx.addIssue({ code: 'custom', path: ['proxy', 'comparePort'], message: 'must differ from mirrorPort' });
    if (n.netdev.type === 'tap' && n.netdev.bridge !== undefined && (n.netdev.ifname !== undefined || n.netdev.script !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['netdev', 'bridge'], message: 'a bridge netdev names its tap itself: give bridge alone, or ifname/script without bridge' });
    }
  });

export const nicsSchema = z.array(nicSchema).default([]);
