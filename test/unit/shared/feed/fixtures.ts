import type { ColoEvent, NodeStatus } from '../../../../shared/nats/index.js';

export const T0 = 1_700_000_000_000;

/** A valid NodeStatus of a protected pair member; override what a test is about. */
export function nodeStatus(over: Partial<NodeStatus> & Pick<NodeStatus, 'node'>): NodeStatus {
  const role = over.role ?? (over.node === 'alpha' ? 'primary' : 'secondary');
  return {
    vm: 'vm1',
    role,
    phase: 'coloRunning',
    protected: true,
    degraded: false,
    reason: 'COLO running: the secondary follows every checkpoint',
    epoch: 1,
    qemuPid: role === 'primary' ? 1111 : 2222,
    qmpSocket: `/run/${over.node}/vm1/qmp.sock`,
    runState: 'running',
    coloMode: role === 'none' ? 'none' : role,
    checkpoints: { count: 10, ratePerSec: 5, lastPauseMs: 12.5, lastAgeMs: 80, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] },
    transitions: [{ at: T0 - 1000, from: 'enteringColo', to: 'coloRunning', reason: 'COLO running' }],
    natsConnected: true,
    replication: { state: 'replicating', reason: "every COLO disk replicates (1 checked in qemu's block graph)", checkedAgoMs: 700 },
    disks: [{ index: 0, replication: { state: 'replicating', reason: `disk 0: replicating on ${over.node}`, checkedAgoMs: 700 } }],
    nics: [],
    heartbeatAgeMs: 40,
    dataTls: true,
    resync: null,
    failover: { phase: 'watching', trigger: null, detectedAt: null, leaseWonAt: null, takeoverAt: null, takeoverSteps: null },
    sentAt: T0,
    ...over,
  };
}

export function event(over: Partial<ColoEvent> & Pick<ColoEvent, 'kind'>): ColoEvent {
  return { pair: 'p1', vm: 'vm1', node: 'beta', epoch: 2, reason: 'because', at: T0, ...over };
}

/** beta after taking over from alpha under epoch 2. */
export function tookOver(at: number): NodeStatus {
  return nodeStatus({
    node: 'beta',
    role: 'primary',
    phase: 'runningAlone',
    protected: false,
    degraded: true,
    reason: 'took over after no heartbeat from alpha for 3012 ms: running alone as primary, epoch 2',
    epoch: 2,
    coloMode: 'none',
    checkpoints: { count: 0, ratePerSec: 0, lastPauseMs: null, lastAgeMs: null, pauseMsP50: null, pauseMsP99: null, pausedFraction: null, recentPauses: [] },
    replication: { state: 'degraded', reason: "qemu's COLO mode is none, not primary", checkedAgoMs: 300 },
    disks: [{ index: 0, replication: { state: 'degraded', reason: 'disk 0: COLO is not running (none)', checkedAgoMs: 300 } }],
    nics: [],
    failover: { phase: 'runningAlone', trigger: 'no heartbeat from alpha for 3012 ms', detectedAt: at - 100, leaseWonAt: at - 50, takeoverAt: at, takeoverSteps: { 'x-colo-lost-heartbeat': 6.1, running: 0.5 } },
    sentAt: at,
  });
}
