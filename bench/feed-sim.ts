/**
 * Simulated agents for `npm run bench:feed`: VMS VMs on two nodes, each node
 * publishing a valid NodeStatus at the agents' cadence (every 2 s, staggered)
 * on its status subject and into the status bucket, as a real agent does.
 * Prints one JSON line with what it sent and the CPU it used, then exits.
 * Usage: node dist/bench/feed-sim.js NATS_URL PAIR VMS DURATION_MS
 */
import { silentLogger } from '../shared/log.js';
import { connectBus, encodeJson, kvBuckets, kvKeys, subjects, type NodeStatus } from '../shared/nats/index.js';
import { sleep } from '../shared/sleep.js';

const STATUS_PUBLISH_MS = 2_000; // the agents' steady interval (agent/runtime/vm-controller.ts)
const NODES = ['alpha', 'beta'] as const;

function simulatedStatus(vm: string, node: string, tick: number, now: number): NodeStatus {
  const primary = node === 'alpha';
  return {
    vm,
    node,
    role: primary ? 'primary' : 'secondary',
    phase: 'coloRunning',
    protected: true,
    degraded: false,
    reason: 'COLO running: the secondary follows every checkpoint',
    epoch: 1,
    qemuPid: 1000 + tick,
    qmpSocket: `/run/colo-ft/${node}/${vm}/qmp.sock`,
    runState: 'running',
    coloMode: primary ? 'primary' : 'secondary',
    dataTls: true,
    checkpoints: { count: tick * 10, ratePerSec: 5, lastPauseMs: 10 + (tick % 7), lastAgeMs: 120, pauseMsP50: 10, pauseMsP99: 16, pausedFraction: 0.05, recentPauses: [] },
    transitions: [{ at: now - 60_000, from: 'enteringColo', to: 'coloRunning', reason: 'COLO running' }],
    natsConnected: true,
    replication: { state: 'replicating', reason: 'every COLO disk replicates', checkedAgoMs: 500 },
    disks: [{ index: 0, replication: { state: 'replicating', reason: 'disk 0 replicates', checkedAgoMs: 500 } }],
    nics: [],
    heartbeatAgeMs: 50,
    resync: null,
    failover: { phase: 'watching', trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null, takeoverSteps: null },
    sentAt: now,
  };
}

async function main(): Promise<void> {
  const [url, pair, vmsArg, durationArg] = process.argv.slice(2);
  const vmCount = Number(vmsArg);
  const durationMs = Number(durationArg);
  const bus = await connectBus({ servers: [url!], name: 'bench-feed-sim', log: silentLogger() });
  const kv = await bus.kv(kvBuckets.status(pair!));
  let published = 0;
  let kvPuts = 0;
  const timers: NodeJS.Timeout[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < vmCount; i++) {
    for (const node of NODES) {
      const vm = `vm${i + 1}`;
      let tick = 0;
      const publish = () => {
        const s = simulatedStatus(vm, node, ++tick, Date.now());
        bus.publish(subjects.status(pair!, vm, node), s);
        published++;
        kv.put(kvKeys.status(vm, node), encodeJson(s)).then(() => kvPuts++, () => undefined);
      };
      // Stagger the VMs over the interval, as independent agents would be.
      const offset = ((i * NODES.length + NODES.indexOf(node)) * STATUS_PUBLISH_MS) / (vmCount * NODES.length);
      timers.push(setTimeout(() => {
        publish();
        timers.push(setInterval(publish, STATUS_PUBLISH_MS));
      }, offset));
    }
  }
  await sleep(durationMs);
  for (const t of timers) clearInterval(t);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await bus.close();
  console.log(JSON.stringify({ published, kvPuts, wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }));
}

await main();
