import { eventForTransition, type TagChange, type TransitionRecord } from '../../state-machines/index.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { encodeJson, kvKeys, subjects, type Bus, type ColoEvent, type KvStore, type NodeStatus } from '../../shared/nats/index.js';

/**
 * The feed of one VM on one node: the status on its subject and in the status
 * bucket (so a new subscriber sees it at once), and notable transitions on the
 * events subject. It only publishes what the machines say.
 */
export class StatusPublisher {
  constructor(
    private readonly o: { bus: Bus; kv: KvStore | null; pair: string; vm: string; node: string; log: Logger },
  ) {}

  publish(status: NodeStatus): void {
    const { bus, kv, pair, vm, node } = this.o;
    if (bus.state !== 'connected') return;
    bus.publish(subjects.status(pair, vm, node), status);
    kv?.put(kvKeys.status(vm, node), encodeJson(status)).catch((e: unknown) => this.o.log.debug({ reason: errorMessage(e) }, 'status bucket write failed'));
  }

  transition(machine: 'checkpoint' | 'failover' | 'restore', record: TransitionRecord, tags: TagChange, epoch: number): void {
    const kind = eventForTransition(machine, tags);
    if (!kind) return;
    const event: ColoEvent = { pair: this.o.pair, vm: this.o.vm, node: this.o.node, kind, epoch, reason: record.reason, at: record.at };
    this.o.bus.publish(subjects.events(this.o.pair, this.o.vm), event);
  }
}
