import { describe, expect, it } from 'vitest';
import { Feed } from '../../../../shared/feed/feed.js';
import { formatUrl, isLoopback, isLoopbackHostHeader, parseListen } from '../../../../shared/feed/listen.js';
import { ConfigError } from '../../../../shared/errors.js';
import { decodeWith, encodeJson, feedSubjects, feedVmStatusSchema, kvKeyParts, kvKeys, nodeStatusSchema, subjects } from '../../../../shared/nats/index.js';
import { event, nodeStatus, T0, tookOver } from './fixtures.js';

describe('feed schemas: what goes on the wire round-trips', () => {
  it('a NodeStatus survives encode/decode, and a feed view of it does too', () => {
    const s = nodeStatus({ node: 'alpha' });
    expect(decodeWith(nodeStatusSchema, encodeJson(s), 'x')).toEqual(s);
    // An agent from before the audit sends neither field: the defaults stand in.
    const { replication: _r, disks: _d, ...older } = s;
    expect(decodeWith(nodeStatusSchema, encodeJson(older), 'x')).toEqual({ ...older, replication: null, disks: [] });
    const feed = new Feed({}, () => T0);
    const seen: unknown[] = [];
    feed.onChange((v) => seen.push(JSON.parse(JSON.stringify(v))));
    feed.status('p1', s);
    feed.status('p1', tookOver(T0 + 1));
    feed.event(event({ kind: 'takeover-done' }));
    expect(seen).toHaveLength(3);
    for (const v of seen) expect(feedVmStatusSchema.parse(v)).toEqual(v);
  });

  it('the feed object keeps every name of `colo-ft status --json`', () => {
    const feed = new Feed({}, () => T0);
    feed.status('p1', nodeStatus({ node: 'alpha' }));
    const [v] = feed.views();
    for (const k of ['vm', 'protected', 'phase', 'reason', 'epoch', 'nodes', 'checkpoints']) expect(v).toHaveProperty(k);
    for (const k of ['node', 'reachable', 'role', 'phase', 'reason', 'qemuPid', 'qmpSocket', 'runState', 'coloMode', 'checkpoints', 'replication', 'disks']) expect(v!.nodes[0]).toHaveProperty(k);
  });

  it('rejects an unknown field (our messages are strict)', () => {
    const feed = new Feed({}, () => T0);
    feed.status('p1', nodeStatus({ node: 'alpha' }));
    expect(() => feedVmStatusSchema.parse({ ...feed.views()[0], extra: 1 })).toThrow();
  });

  it('subject and key inverses match their builders', () => {
    expect(feedSubjects.pairOf(subjects.status('pair-a', 'vm1', 'alpha'))).toBe('pair-a');
    expect(feedSubjects.pairOf(subjects.events('pair-b', 'vm1'))).toBe('pair-b');
    expect(kvKeyParts.leaseVm(kvKeys.lease('vm-7'))).toBe('vm-7');
    expect(kvKeyParts.leaseVm(kvKeys.status('vm-7', 'alpha'))).toBeNull();
  });
});

describe('listen addresses: loopback unless said otherwise', () => {
  it.each([
    ['8484', { host: '127.0.0.1', port: 8484 }],
    [':8484', { host: '127.0.0.1', port: 8484 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['0.0.0.0:9000', { host: '0.0.0.0', port: 9000 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['dash.example:80', { host: 'dash.example', port: 80 }],
  ])('%s', (spec, want) => {
    expect(parseListen(spec)).toEqual(want);
  });

  it.each(['', 'host:', 'host:99999', '::1:80', 'a b:80'])('refuses %j', (spec) => {
    expect(() => parseListen(spec)).toThrow(ConfigError);
  });

  it('knows loopback hosts and Host headers', () => {
    expect(['127.0.0.1', '127.1.2.3', '::1', 'localhost'].every(isLoopback)).toBe(true);
    expect(['0.0.0.0', '10.0.0.1', '::'].some(isLoopback)).toBe(false);
    expect(isLoopbackHostHeader('127.0.0.1:8484')).toBe(true);
    expect(isLoopbackHostHeader('[::1]:8484')).toBe(true);
    expect(isLoopbackHostHeader('evil.example:8484')).toBe(false);
    expect(isLoopbackHostHeader(undefined)).toBe(false);
    expect(formatUrl({ host: '0.0.0.0', port: 1 })).toBe('http://127.0.0.1:1/');
    expect(formatUrl({ host: '::1', port: 1 })).toBe('http://[::1]:1/');
  });
});
