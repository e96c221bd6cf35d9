// Shared setup for the outbound integration tests: a courier wired to an in-process DNS server, a
// test CA, a fresh database (attempts rows) and a log capture (hop records). Opens sockets.
import path from 'node:path';
import type { Writable } from 'node:stream';
import type tls from 'node:tls';
import type { OutboundConfig, TlsLevel } from '../../src/config/types.ts';
import type { DeliveryJob } from '../../src/core/delivery.ts';
import { type Db, openDb } from '../../src/db/open.ts';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { createLogger } from '../../src/log/log.ts';
import { AttemptsStore } from '../../src/outbound/attempts-store.ts';
import { RemoteCourier, type RemoteCourierDeps } from '../../src/outbound/courier.ts';
import type { DnsServer } from '../helpers/dns-server.ts';
import { captureLog as captureLogRecords } from '../helpers/log.ts';
import { type Scope, tempDir } from '../helpers/tmp.ts';

export const MIGRATIONS = path.resolve(import.meta.dirname, '../../migrations');

export function outboundConfig(port: number, overrides: Partial<OutboundConfig> = {}): OutboundConfig {
  return {
    port,
    tlsDefault: 'may' as TlsLevel,
    tlsPolicy: {},
    caFile: '',
    mtaSts: false,
    ipv6: true,
    concurrency: 20,
    concurrencyPerDestination: 5,
    connectTimeoutSeconds: 5,
    commandTimeoutSeconds: 10,
    maxMxHosts: 5,
    ...overrides,
  };
}

export interface LogCapture {
  stream: Writable;
  records: Record<string, unknown>[];
  hops(queueId: string, domain?: string): HopRecord[];
}

export interface HopRecord {
  queueId: string;
  domain: string;
  rcpts: string[];
  mx: string;
  ip: string;
  port: number;
  policy: string;
  policySource: string;
  tls: { version: string; cipher: string; verified: boolean; error?: string } | null;
  downgrade: string | null;
  reply: { code: number; enhanced?: string; text: string } | null;
  result: string;
  error: string | null;
  sts?: string;
  ms: number;
}

export function captureLog(): LogCapture {
  const { stream, records } = captureLogRecords('info');
  return {
    stream,
    records,
    hops: (queueId, domain) =>
      records.filter((r) => r['event'] === 'hop' && r['queueId'] === queueId && (domain === undefined || r['domain'] === domain)) as unknown as HopRecord[],
  };
}

export async function openTestDb(scope: Scope): Promise<Db> {
  const db = openDb(await tempDir(scope, 'sealpost-outbound-'), MIGRATIONS);
  scope.after(() => db.close());
  return db;
}

export interface Harness {
  courier: RemoteCourier;
  log: LogCapture;
  attempts: AttemptsStore;
}

export function makeCourier(
  scope: Scope,
  db: Db,
  dns: DnsServer,
  trust: tls.SecureContext,
  outbound: OutboundConfig,
  extra: Partial<RemoteCourierDeps> = {},
): Harness {
  const log = captureLog();
  const attempts = new AttemptsStore(db);
  const courier = new RemoteCourier({
    hostname: 'sender.sealpost.test',
    outbound: () => outbound,
    resolver: createNodeResolver({ servers: [dns.address], timeoutMs: 1500 }),
    trust,
    log: createLogger('info', log.stream),
    attempts,
    idleMs: 300,
    ...extra,
  });
  scope.after(() => courier.close());
  return { courier, log, attempts };
}

let counter = 0;

export function job(rcpts: string[], body: string, overrides: Partial<DeliveryJob> = {}): DeliveryJob {
  counter++;
  const buffer = Buffer.from(body.replace(/\r?\n/g, '\r\n'));
  return {
    queueId: `Q${process.pid}x${counter}`,
    sender: 'alice@sender.sealpost.test',
    receivedAt: Date.now(),
    size: buffer.length,
    body: buffer,
    smtputf8: false,
    eightBit: false,
    recipients: rcpts.map((address, i) => ({ id: i + 1, rcpt: address, address, attempts: 0 })),
    ...overrides,
  };
}
