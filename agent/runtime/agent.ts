import type { Config } from '../../shared/config/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { connectBus, emptyRequestSchema, kvBuckets, subjects, type Bus, type AgentStatusReply, type Unsubscribe } from '../../shared/nats/index.js';
import { findNode, isKvmUsable, probeQemuBinary, qemuImg } from '../../shared/qemu/index.js';
import { VmController } from './vm-controller.js';

export interface AgentOptions {
  config: Config;
  nodeName: string;
  log: Logger;
  qemuBinary?: string;
  relayBinary?: string;
  qemuImgBinary?: string;
  /** Overrides /dev/kvm detection (tests force TCG with false). */
  kvmUsable?: boolean;
}

export interface Agent {
  readonly node: string;
  readonly bus: Bus;
  controllers(): readonly VmController[];
  status(): Promise<AgentStatusReply>;
  /** A real health check for the watchdog: a NATS round trip and every running qemu answering. */
  healthy(): Promise<boolean>;
  /** Stop the agent and its VMs (demo, tests). */
  stop(): Promise<void>;
  /** Stop the agent only: VMs keep running for the next agent to adopt (systemd restarts, upgrades). */
  detach(): Promise<void>;
}

/**
 * The composition root of one host: wires config, NATS, qemu and one set of
 * machines per VM. A VM whose setup throws is logged and left out; it never
 * stops the others.
 */
export async function startAgent(o: AgentOptions): Promise<Agent> {
  const { config, nodeName } = o;
  findNode(config, nodeName);
  const qemuBinary = o.qemuBinary ?? 'qemu-system-x86_64';
  const log = o.log.child({ component: 'agent', node: nodeName });
  const probing = probeQemuBinary(qemuBinary, config.qemu);
  const connecting = connectBus({
    servers: config.nats.servers,
    name: `colo-ft-agent-${config.pair}-${nodeName}`,
    credsFile: config.nats.credsFile,
    user: config.nats.user,
    password: config.nats.password,
    token: config.nats.token,
    tls: config.nats.tls,
    log,
  });
  const [probed, connected] = await Promise.allSettled([probing, connecting]);
  if (probed.status === 'rejected') {
    if (connected.status === 'fulfilled') await connected.value.close();
    throw probed.reason;
  }
  if (connected.status === 'rejected') throw connected.reason;
  const bus = connected.value;
  const kvmUsable = o.kvmUsable ?? isKvmUsable();
  const img = qemuImg(o.qemuImgBinary);
  const kv = await bus.kv(kvBuckets.lease(config.pair), { replicas: config.nats.kvReplicas });
  const statusKv = await bus.kv(kvBuckets.status(config.pair), { replicas: config.nats.kvReplicas }).catch((e: unknown) => {
    log.warn({ reason: errorMessage(e) }, 'no status bucket: the feed goes on the status subject only');
    return null;
  });
  const controllers: VmController[] = [];
  await Promise.all(
    config.vms.map(async (vm) => {
      try {
        const c = new VmController({ config, nodeName, vmName: vm.name, bus, img, qemuBinary, relayBinary: o.relayBinary, kvmUsable, kv, statusKv, log });
        await c.start();
        controllers.push(c);
      } catch (e) {
        log.error({ vm: vm.name, reason: errorMessage(e) }, 'cannot run this VM');
      }
    }),
  );
  controllers.sort((a, b) => a.vmName.localeCompare(b.vmName));
  const status = async (): Promise<AgentStatusReply> => ({
    node: nodeName,
    vms: await Promise.all(controllers.map((c) => c.statusFresh())),
  });
  const serving: Unsubscribe = bus.serve(subjects.agentStatus(config.pair, nodeName), emptyRequestSchema, status);
  log.info({ vms: controllers.map((c) => c.vmName), kvmUsable }, 'agent started');
  let stopped: Promise<void> | null = null;
  return {
    node: nodeName,
    bus,
    controllers: () => controllers,
    status,
    async healthy() {
      try {
        await bus.rtt();
      } catch {
        return false;
      }
      return (await Promise.all(controllers.map((c) => c.healthy()))).every(Boolean);
    },
    stop() {
      stopped ??= (async () => {
        serving();
        await Promise.all(controllers.map((c) => c.stop().catch((e) => log.warn({ reason: errorMessage(e) }, 'stop failed'))));
        await bus.close();
        log.info('agent stopped');
      })();
      return stopped;
    },
    detach() {
      stopped ??= (async () => {
        serving();
        await Promise.all(controllers.map((c) => c.detach().catch((e) => log.warn({ reason: errorMessage(e) }, 'detach failed'))));
        await bus.close();
        log.info('agent stopped; VMs left running for the next agent to adopt');
      })();
      return stopped;
    },
  };
}
