// An in-process authoritative DNS server for tests on 127.0.0.1 (UDP and TCP, same port): answers
// MX, A, AAAA, TXT, PTR, CAA and CNAME (followed once within the zone) from a zone map the test controls and changes at will; NXDOMAIN, SERVFAIL
// or silence (a timeout) on demand. Writes the RFC 1035 wire format itself. Opens sockets.
import dgram from 'node:dgram';
import net from 'node:net';

export interface ZoneEntry {
  MX?: { preference: number; exchange: string }[];
  A?: string[];
  AAAA?: string[];
  /** One string per record; strings longer than 255 bytes are split into character-strings. */
  TXT?: string[];
  /** Host names, for reverse names ("7.113.0.203.in-addr.arpa"). */
  PTR?: string[];
  /** RFC 8659 §4.1: flags, tag ("issue"), value. */
  CAA?: { flags: number; tag: string; value: string }[];
  /** An alias: answers CNAME queries, and other types with the CNAME then the target's records. */
  CNAME?: string;
  /** Answer every query for this name with this, whatever the type. */
  rcode?: 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'DROP';
}

/** Names (lowercase, no trailing dot) → records; a name not in the map is NXDOMAIN. */
export type Zone = Map<string, ZoneEntry>;

export interface DnsServer {
  /** "127.0.0.1:PORT", for config dns.servers. */
  address: string;
  port: number;
  zone: Zone;
  /** Names asked, in order, as "name TYPE". */
  queries: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, keyof ZoneEntry> = { 1: 'A', 5: 'CNAME', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 257: 'CAA' };
const TYPE_NAMES: Record<number, string> = { 1: 'A', 5: 'CNAME', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 257: 'CAA', 2: 'NS', 6: 'SOA', 52: 'TLSA' };
const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

/** `port` 0 picks a free port (UDP and TCP alike); another port must be free or this throws. */
export async function startDnsServer(zone: Zone = new Map(), host = '127.0.0.1', fixedPort = 0): Promise<DnsServer> {
  const queries: string[] = [];
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(fixedPort, host, () => resolve());
    });
    const port = udp.address().port;
    const tcp = net.createServer((socket) => serveTcp(socket, zone, queries));
    const ok = await new Promise<boolean>((resolve) => {
      tcp.once('error', () => resolve(false));
      tcp.listen(port, host, () => resolve(true));
    });
    if (!ok) {
      udp.close();
      if (attempt > 20 || fixedPort !== 0) throw new Error(`dns-server: no port free for both UDP and TCP${fixedPort ? ` (${fixedPort})` : ''}`);
      continue;
    }
    udp.on('message', (msg, rinfo) => {
      const reply = answer(msg, zone, queries);
      if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    const sockets = new Set<net.Socket>();
    tcp.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    return {
      address: `${host}:${port}`,
      port,
      zone,
      queries,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => udp.close(() => r())), new Promise<void>((r) => tcp.close(() => r()))]);
      },
    };
  }
}

function serveTcp(socket: net.Socket, zone: Zone, queries: string[]): void {
  let buffer = Buffer.alloc(0);
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 2) {
      const length = buffer.readUInt16BE(0);
      if (buffer.length < 2 + length) return;
      const reply = answer(buffer.subarray(2, 2 + length), zone, queries);
      buffer = buffer.subarray(2 + length);
      if (reply) {
        const prefix = Buffer.alloc(2);
        prefix.writeUInt16BE(reply.length);
        socket.write(Buffer.concat([prefix, reply]));
      }
    }
  });
}

/** The response to one query message, or undefined to stay silent. */
export function answer(query: Buffer, zone: Zone, queries: string[] = []): Buffer | undefined {
  if (query.length < 12) return undefined;
  const id = query.readUInt16BE(0);
  const flags = query.readUInt16BE(2);
  let offset = 12;
  const labels: string[] = [];
  while (offset < query.length) {
    const len = query[offset] ?? 0;
    offset++;
    if (len === 0) break;
    labels.push(query.subarray(offset, offset + len).toString('latin1'));
    offset += len;
  }
  const qtype = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const name = labels.join('.').toLowerCase();
  queries.push(`${name} ${TYPE_NAMES[qtype] ?? qtype}`);
  const entry = zone.get(name);
  let rcode: number = RCODES.NOERROR;
  const answers: Buffer[] = [];
  if (entry?.rcode === 'DROP') return undefined;
  if (!entry || entry.rcode === 'NXDOMAIN') rcode = RCODES.NXDOMAIN;
  else if (entry.rcode) rcode = RCODES[entry.rcode];
  else {
    const key = TYPES[qtype];
    const rr = (owner: Buffer, type: number, rdata: Buffer): void => {
      const fixed = Buffer.alloc(10);
      fixed.writeUInt16BE(type, 0);
      fixed.writeUInt16BE(1, 2); // IN
      fixed.writeUInt32BE(60, 4); // TTL
      fixed.writeUInt16BE(rdata.length, 8);
      answers.push(Buffer.concat([owner, fixed]), rdata);
    };
    const question = Buffer.from([0xc0, 0x0c]); // pointer to the question name (offset 12)
    if (entry.CNAME !== undefined && key !== 'CNAME') {
      rr(question, 5, encodeName(entry.CNAME));
      const target = zone.get(entry.CNAME.toLowerCase().replace(/\.$/, ''));
      for (const rdata of key && target && !target.rcode ? records(target, key) : []) rr(encodeName(entry.CNAME), qtype, rdata);
    } else {
      for (const rdata of key ? records(entry, key) : []) rr(question, qtype, rdata);
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, opcode from the query, AA, RD copied, RA, rcode.
  header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, question, ...answers]);
}

function records(entry: ZoneEntry, key: keyof ZoneEntry): Buffer[] {
  switch (key) {
    case 'A':
      return (entry.A ?? []).map((ip) => Buffer.from(ip.split('.').map(Number)));
    case 'AAAA':
      return (entry.AAAA ?? []).map(ipv6Bytes);
    case 'MX':
      return (entry.MX ?? []).map((mx) => {
        const pref = Buffer.alloc(2);
        pref.writeUInt16BE(mx.preference);
        return Buffer.concat([pref, encodeName(mx.exchange)]);
      });
    case 'TXT':
      return (entry.TXT ?? []).map((text) => {
        const bytes = Buffer.from(text, 'utf8');
        const parts: Buffer[] = [];
        for (let i = 0; i < bytes.length || i === 0; i += 255) {
          const chunk = bytes.subarray(i, i + 255);
          parts.push(Buffer.from([chunk.length]), chunk);
          if (bytes.length === 0) break;
        }
        return Buffer.concat(parts);
      });
    case 'PTR':
      return (entry.PTR ?? []).map(encodeName);
    case 'CNAME':
      return entry.CNAME === undefined ? [] : [encodeName(entry.CNAME)];
    case 'CAA':
      return (entry.CAA ?? []).map((c) => Buffer.concat([Buffer.from([c.flags, c.tag.length]), Buffer.from(c.tag, 'latin1'), Buffer.from(c.value, 'utf8')]));
    default:
      return [];
  }
}

function encodeName(name: string): Buffer {
  const labels = name === '.' || name === '' ? [] : name.replace(/\.$/, '').split('.');
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}
