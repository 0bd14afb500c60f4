import { describe, expect, it } from 'vitest';
import { primaryRelayArgs, relayPlan, secondaryRelayArgs, tcpEndpoint } from '../../../../shared/relay/index.js';

const plan = relayPlan('/run/colo-ft/beta/vm1', { host: '10.0.0.2', port: 9100 });

describe('relay argv', () => {
  it('secondary: one connection on the replication address with TCP_NODELAY, to the incoming qemu socket; the other side closed at once', () => {
    expect(secondaryRelayArgs(plan)).toEqual(['-d', '-t', '0', 'TCP-LISTEN:9100,bind=10.0.0.2,reuseaddr,nodelay', 'UNIX-CONNECT:/run/colo-ft/beta/vm1/colo-in.sock']);
  });

  it('primary: listens for qemu on a unix socket, connects to the peer relay with TCP_NODELAY', () => {
    expect(primaryRelayArgs(plan, { host: '10.0.0.2', port: 9100 })).toEqual(['-d', '-t', '0', 'UNIX-LISTEN:/run/colo-ft/beta/vm1/colo-out.sock,unlink-early', 'TCP:10.0.0.2:9100,nodelay']);
  });

  it('refuses a socket path socat would split', () => {
    expect(() => secondaryRelayArgs(relayPlan('/run/a,b', { host: 'h', port: 1 }))).toThrow(/cannot take/);
    expect(() => primaryRelayArgs(relayPlan('/run/a:b', { host: 'h', port: 1 }), { host: 'h', port: 1 })).toThrow(/cannot take/);
  });

  it('with TLS: the secondary forks a child per connection (a failed handshake ends alone), both ends insist on the pair CA and the peer name', () => {
    const tls = relayPlan('/run/colo-ft/beta/vm1', { host: '10.0.0.2', port: 9100 }, { cert: '/t/server-cert.pem', key: '/t/server-key.pem', ca: '/t/ca-cert.pem', peer: 'alpha' });
    const opts = 'cert=/t/server-cert.pem,key=/t/server-key.pem,cafile=/t/ca-cert.pem,verify=1,commonname=alpha';
    expect(secondaryRelayArgs(tls)).toEqual(['-d', '-t', '0', `OPENSSL-LISTEN:9100,bind=10.0.0.2,reuseaddr,nodelay,fork,${opts}`, 'UNIX-CONNECT:/run/colo-ft/beta/vm1/colo-in.sock']);
    expect(primaryRelayArgs(tls, { host: '10.0.0.2', port: 9100 })).toEqual(['-d', '-t', '0', 'UNIX-LISTEN:/run/colo-ft/beta/vm1/colo-out.sock,unlink-early', `OPENSSL:10.0.0.2:9100,nodelay,${opts}`]);
    expect(() => secondaryRelayArgs(relayPlan('/r', { host: 'h', port: 1 }, { cert: '/a,b', key: '/k', ca: '/c', peer: 'p' }))).toThrow(/cannot take/);
  });

  it('reads the readiness reply URI', () => {
    expect(tcpEndpoint('tcp:10.0.0.2:9100')).toEqual({ host: '10.0.0.2', port: 9100 });
    expect(() => tcpEndpoint('unix:/x')).toThrow(/tcp:HOST:PORT/);
  });
});
