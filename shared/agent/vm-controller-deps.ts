import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Bus, KvStore } from '../nats/index.js';
import type { QemuImg } from '../qemu/index.js';

/** What one VM's controller is built from: the agent's shared adapters and this VM's names. */
export interface VmControllerDeps {
  config: Config;
  nodeName: string;
  vmName: string;
  bus: Bus;
  img: QemuImg;
  qemuBinary: string;
  kvmUsable: boolean;
  kv: KvStore;
  statusKv: KvStore | null;
  log: Logger;
}
