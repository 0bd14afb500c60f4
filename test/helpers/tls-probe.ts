import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export interface TlsProbeFiles {
  /** The CA that signed the server's client-port certificate. */
  caFile: string;
  certFile?: string;
  keyFile?: string;
}

/**
 * One NATS login over TLS by hand, as nats.js does it (the server's INFO in
 * clear, then the TLS upgrade, then CONNECT and PING), with a fixed deadline:
 * nats.js retries a refused handshake instead of failing, so it cannot ask
 * this. Resolves 'accepted' on the server's PONG; otherwise with what ended it
 * (a TLS alert, the server's -ERR, or the connection closing). Under TLS 1.3
 * the client's side of the handshake completes before the server has judged
 * the client's certificate, so only a PONG proves the server let it in.
 */
export function natsTlsLogin(url: string, files: TlsProbeFiles, login: { user: string; pass: string }, timeoutMs = 5_000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const raw = connect({ host: hostname, port: Number(port) });
    let done = false;
    const finish = (outcome: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      raw.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish('no answer'), timeoutMs);
    raw.on('error', (e) => finish(`tcp: ${e.message}`));
    raw.once('data', (info) => {
      if (!info.toString().startsWith('INFO ')) return finish(`no INFO: ${info.toString().slice(0, 80)}`);
      const tls = tlsConnect({
        socket: raw,
        ca: readFileSync(files.caFile),
        cert: files.certFile ? readFileSync(files.certFile) : undefined,
        key: files.keyFile ? readFileSync(files.keyFile) : undefined,
        servername: hostname,
        checkServerIdentity: () => undefined,
      });
      let text = '';
      tls.on('error', (e) => finish(`tls: ${e.message}`));
      tls.on('close', () => finish(`closed${text ? `: ${text.trim().slice(0, 120)}` : ''}`));
      tls.on('secureConnect', () => tls.write(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, user: login.user, pass: login.pass })}\r\nPING\r\n`));
      tls.on('data', (d: Buffer) => {
        text += d.toString();
        if (/^PONG\r$/m.test(text)) finish('accepted');
        else if (text.includes('-ERR')) finish(text.trim().slice(0, 120));
      });
    });
  });
}
