// One DNS query on the wire (npm dns-packet): UDP with EDNS0 (RFC 6891) and the DO bit (RFC 3225),
// RD and AD set (RFC 6840 §5.7: AD in a query asks for the AD bit in the answer), then TCP to the
// same server when the answer is truncated (RFC 7766 §5, RFC 1035 §4.2.2). Servers are asked in
// order until one answers with something other than SERVFAIL/REFUSED, within one time budget.
// Network I/O; no state between queries.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import packet, { type DecodedPacket, type RecordType } from 'dns-packet';

export interface DnsServerAddress {
  host: string;
  port: number;
}

export type WireOutcome =
  /** rcode: RFC 1035 §4.1.1 by name ("NOERROR", "NXDOMAIN", "SERVFAIL"…). */
  | { kind: 'response'; response: DecodedPacket; rcode: string; server: DnsServerAddress; tcp: boolean }
  | { kind: 'timeout'; detail: string }
  | { kind: 'error'; detail: string };

/** RFC 6891 §6.2.5 and the DNS flag day 2020 advice: no fragmentation. */
const UDP_PAYLOAD = 1232;

export async function query(servers: readonly DnsServerAddress[], name: string, type: RecordType, budgetMs: number): Promise<WireOutcome> {
  if (servers.length === 0) return { kind: 'error', detail: 'no DNS server configured' };
  const deadline = Date.now() + budgetMs;
  let last: WireOutcome = { kind: 'timeout', detail: `no answer within ${budgetMs} ms` };
  for (const [i, server] of servers.entries()) {
    // Each server gets its share of what is left; the last one gets all of it.
    const share = Math.max(50, Math.floor((deadline - Date.now()) / (servers.length - i)));
    const outcome = await ask(server, name, type, share);
    if (outcome.kind === 'response' && outcome.rcode !== 'SERVFAIL' && outcome.rcode !== 'REFUSED') return outcome;
    last = outcome;
    if (Date.now() >= deadline) break;
  }
  return last;
}

async function ask(server: DnsServerAddress, name: string, type: RecordType, budgetMs: number): Promise<WireOutcome> {
  const id = randomInt(0, 0x10000);
  const message: packet.Packet = {
    type: 'query',
    id,
    flags: packet.RECURSION_DESIRED | packet.AUTHENTIC_DATA,
    questions: [{ type, name, class: 'IN' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: UDP_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: packet.DNSSEC_OK, flag_do: true, options: [] },
    ],
  };
  const started = Date.now();
  // Two UDP tries in the budget (a lost datagram is common), each half of it.
  let udp: WireOutcome = { kind: 'timeout', detail: 'no answer' };
  for (let attempt = 0; attempt < 2; attempt++) {
    const left = budgetMs - (Date.now() - started);
    if (left <= 0) break;
    udp = await overUdp(server, packet.encode(message), id, name, attempt === 0 ? Math.ceil(left / 2) : left);
    if (udp.kind !== 'timeout') break;
  }
  if (udp.kind !== 'response' || !udp.response.flag_tc) return udp;
  return overTcp(server, packet.streamEncode(message), id, name, Math.max(50, budgetMs - (Date.now() - started)));
}

function matches(response: DecodedPacket, id: number, name: string): boolean {
  const q = response.questions?.[0];
  return response.id === id && response.type === 'response' && q !== undefined && bare(q.name) === bare(name);
}

/** "Example.ORG." → "example.org"; the root, "." → "". */
function bare(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** dns-packet decodes the RCODE but its types omit it: read it from the header flags (low 4 bits). */
function rcodeOf(response: DecodedPacket): string {
  const code = (response.flags ?? 0) & 0x0f;
  return RCODES[code] ?? `RCODE ${code}`;
}

function where(server: DnsServerAddress): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

function overUdp(server: DnsServerAddress, bytes: Buffer, id: number, name: string, timeoutMs: number): Promise<WireOutcome> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
    const done = (outcome: WireOutcome): void => {
      clearTimeout(timer);
      socket.close();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ kind: 'timeout', detail: `no answer from ${where(server)} within ${timeoutMs} ms` }), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'error', detail: `${where(server)}: ${e.code ?? e.message}` }));
    socket.on('message', (msg, rinfo) => {
      // RFC 5452 §9.1: only the server asked, the id and the question we sent.
      if (rinfo.port !== server.port) return;
      let response: DecodedPacket;
      try {
        response = packet.decode(msg);
      } catch {
        return;
      }
      if (matches(response, id, name)) done({ kind: 'response', response, rcode: rcodeOf(response), server, tcp: false });
    });
    socket.send(bytes, server.port, server.host);
  });
}

function overTcp(server: DnsServerAddress, bytes: Buffer, id: number, name: string, timeoutMs: number): Promise<WireOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port });
    let buffer = Buffer.alloc(0);
    const done = (outcome: WireOutcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ kind: 'timeout', detail: `no answer over TCP from ${where(server)} within ${timeoutMs} ms` }), timeoutMs);
    socket.on('error', (e: NodeJS.ErrnoException) => done({ kind: 'error', detail: `${where(server)} over TCP: ${e.code ?? e.message}` }));
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
      try {
        const response = packet.decode(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        done(
          matches(response, id, name)
            ? { kind: 'response', response, rcode: rcodeOf(response), server, tcp: true }
            : { kind: 'error', detail: `${where(server)}: an answer to another query` },
        );
      } catch (e) {
        done({ kind: 'error', detail: `${where(server)}: malformed answer (${(e as Error).message})` });
      }
    });
    socket.on('end', () => done({ kind: 'error', detail: `${where(server)} closed the TCP connection without an answer` }));
  });
}
