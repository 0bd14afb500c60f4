/**
 * The COLO stream's relay between the hosts (colo-procedure.md, "Checkpoint
 * pause"): qemu migrates to a unix socket, socat carries the stream over TCP
 * with TCP_NODELAY on both ends, and the peer's socat hands it to the incoming
 * qemu's unix socket. QEMU 7.2 leaves Nagle on for its own migration socket,
 * and COLO's small return-path messages then wait for delayed ACKs (~88 ms a
 * checkpoint); through the relay a checkpoint pauses ~8 ms. Pure.
 */
import { join } from 'node:path';

export type RelaySide = 'primary' | 'secondary';

export interface RelayPlan {
  /** The secondary qemu's `-incoming unix:` socket, which its relay connects to. */
  incomingSocket: string;
  /** The primary qemu's `migrate unix:` target, on which its relay listens. */
  outgoingSocket: string;
  /** Where the secondary's relay listens (the node's replication address and the VM's migrationPort). */
  listen: { host: string; port: number };
  /** The relay program; `socat` on PATH when absent (a test runs it inside a network namespace). */
  binary?: string;
  /** Mutual TLS on the hop between the hosts (null: plain TCP, `replication.tls: off`). */
  tls: RelayTls | null;
}

/** This node's certificate, key and the pair's CA (PEM files), and the peer's certificate name each end insists on. */
export interface RelayTls {
  cert: string;
  key: string;
  ca: string;
  peer: string;
}

export function relayPlan(runDir: string, listen: { host: string; port: number }, tls: RelayTls | null = null): RelayPlan {
  return { incomingSocket: join(runDir, 'colo-in.sock'), outgoingSocket: join(runDir, 'colo-out.sock'), listen, tls };
}

/** socat's OPENSSL options: our certificate, only peers from the pair's CA, and only the peer's name (CN or SAN). */
function tlsOptions(t: RelayTls): string {
  return `cert=${checked(t.cert)},key=${checked(t.key)},cafile=${checked(t.ca)},verify=1,commonname=${checked(t.peer)}`;
}

// socat splits addresses at ':' and ',' and treats '!!' specially: such paths would be misread.
const SOCAT_UNSAFE = /[,:!'"\\\s]/;

function checked(path: string): string {
  if (SOCAT_UNSAFE.test(path)) throw new RangeError(`socket path ${path} holds a character the relay cannot take (, : ! quotes, backslash or space)`);
  return path;
}

/**
 * Common options: `-t 0` closes the other direction at once when one side
 * ends, so qemu sees a broken stream exactly as without the relay; no
 * `fork`, so it takes one connection and exits when that ends (a second
 * connection to the listener is refused).
 */
const COMMON = ['-d', '-t', '0'];

/**
 * Secondary: accept the primary's stream on the replication address, hand it
 * to the incoming qemu. With TLS each connection is handled in a child
 * (`fork`): one that fails the handshake (no certificate, another CA, another
 * name) ends alone and never reaches qemu's socket, while the listener waits
 * for the real primary. qemu takes one incoming stream, so a second child
 * finds its socket closed.
 */
export function secondaryRelayArgs(p: RelayPlan): string[] {
  const listen = p.tls
    ? `OPENSSL-LISTEN:${p.listen.port},bind=${p.listen.host},reuseaddr,nodelay,fork,${tlsOptions(p.tls)}`
    : `TCP-LISTEN:${p.listen.port},bind=${p.listen.host},reuseaddr,nodelay`;
  return [...COMMON, listen, `UNIX-CONNECT:${checked(p.incomingSocket)}`];
}

/** Primary: take qemu's stream on a unix socket, carry it to the secondary's relay. */
export function primaryRelayArgs(p: RelayPlan, peer: { host: string; port: number }): string[] {
  const connect = p.tls ? `OPENSSL:${peer.host}:${peer.port},nodelay,${tlsOptions(p.tls)}` : `TCP:${peer.host}:${peer.port},nodelay`;
  return [...COMMON, `UNIX-LISTEN:${checked(p.outgoingSocket)},unlink-early`, connect];
}

/** `tcp:HOST:PORT` (the readiness reply's migrationUri) as host and port. */
export function tcpEndpoint(uri: string): { host: string; port: number } {
  const m = /^tcp:([^:]+):(\d+)$/.exec(uri);
  if (!m) throw new RangeError(`not a tcp:HOST:PORT migration URI: ${uri}`);
  return { host: m[1]!, port: Number(m[2]) };
}
