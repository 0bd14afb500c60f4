import type { Config } from '../../shared/config/index.js';
import type { Logger } from '../../shared/log.js';
import type { Bus, KvStore } from '../../shared/nats/index.js';
import type { QemuImg } from '../../shared/qemu/index.js';

/** What one VM's controller is built from: the agent's shared adapters and this VM's names. */
export interface VmControllerDeps {
  config: Config;
  nodeName: string;
  vmName: string;
  bus: Bus;
  img: QemuImg;
  qemuBinary: string;
  /** The COLO stream relay program (socat on PATH by default). */
  relayBinary?: string;
  kvmUsable: boolean;
  kv: KvStore;
  statusKv: KvStore | null;
  log: Logger;
}
