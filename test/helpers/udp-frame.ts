import { createSocket, type Socket } from 'node:dgram';

/** An Ethernet frame carrying IPv4/UDP from 10.0.2.15:40000 to 10.0.2.2:9 with `payload` (what colo-compare parses and compares). */
export function ipv4UdpFrame(payload: Buffer): Buffer {
  const eth = Buffer.from('525400abcdef' + '525400123456' + '0800', 'hex');
  const udpLen = 8 + payload.length;
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udpLen, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([10, 0, 2, 15]).copy(ip, 12);
  Buffer.from([10, 0, 2, 2]).copy(ip, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(40000, 0);
  udp.writeUInt16BE(9, 2);
  udp.writeUInt16BE(udpLen, 4);
  return Buffer.concat([eth, ip, udp, payload]);
}

/** Sends frames as UDP datagrams to a qemu `-netdev socket,udp=...,localaddr=` on loopback. */
export function frameSender(): { send(port: number, frame: Buffer): Promise<void>; close(): void } {
  const s: Socket = createSocket('udp4');
  return {
    send: (port, frame) => new Promise((resolve, reject) => s.send(frame, port, '127.0.0.1', (e) => (e ? reject(e) : resolve()))),
    close: () => s.close(),
  };
}
