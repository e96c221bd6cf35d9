// The config's validation: raw TOML table → frozen Config (types.ts), or every problem with its
// key path and what would fix it. Pure: paths are resolved against a base directory given in.
// Each section is read by its reader in sections.ts; this file puts the slices together.
import path from 'node:path';
import { canonicalDomain } from '../core/address.ts';
import { readDoctor } from './doctor.ts';
import { isTable, type Problem, Reader, type Table } from './fields.ts';
import { readMtaSts } from './mta-sts.ts';
import { readRspamd } from './rspamd.ts';
import {
  readAcme,
  readAuth,
  readDns,
  readDomains,
  readInbound,
  readLimits,
  readListen,
  readLocal,
  readLog,
  readOutbound,
  readQueue,
  readRelay,
  readServer,
  readShutdown,
  readTls,
} from './sections.ts';
import { readArc, readSrs } from './srs.ts';
import { readStatusHttp } from './status-http.ts';
import { readStore } from './store.ts';
import { readTlsrpt } from './tlsrpt-sending.ts';
import type { Config, DkimDomain } from './types.ts';

export type Validated = { ok: true; config: Config; warnings: Problem[] } | { ok: false; problems: Problem[] };

const TOP_KEYS = [
  'hostname',
  'data_dir',
  'listen',
  'tls',
  'submission',
  'submissions',
  'auth',
  'dns',
  'domain',
  'relay',
  'limits',
  'inbound',
  'shutdown',
  'server',
  'acme',
  'mta_sts',
  'log',
  'outbound',
  'queue',
  'store',
  'local',
  'doctor',
  'status_http',
  'srs',
  'arc',
  'tlsrpt',
] as const;

/** Options of a caller that only talks to the database (`sealpost store …`): `acceptPostgres`, see config/store.ts. */
export interface ValidateOptions {
  acceptPostgres?: boolean;
}

/** Validates a parsed TOML document. `baseDir` resolves relative paths (the config file's folder). */
export function validateConfig(raw: Table, baseDir: string, options: ValidateOptions = {}): Validated {
  const r = new Reader();
  r.unknownKeys(raw, '', TOP_KEYS);

  const hostname = canonicalDomain(r.string(raw, 'hostname', ''));
  if (raw['hostname'] !== undefined && (hostname === '' || !hostname.includes('.'))) {
    r.problem('hostname', 'must be a fully qualified host name such as "mx.example.org" (the name in EHLO and on the certificate)');
  }
  const dataDirRaw = r.string(raw, 'data_dir', '');
  if (raw['data_dir'] !== undefined && dataDirRaw === '') r.problem('data_dir', 'must name a directory, e.g. "/var/lib/sealpost"');

  const listenTable = r.table(raw, 'listen', '');
  const listenRead = readListen(r, listenTable);
  const tls = readTls(r, raw, baseDir);
  const auth = readAuth(r, r.table(raw, 'auth', ''));
  const dns = readDns(r, r.table(raw, 'dns', ''));
  const dkim: DkimDomain[] = [];
  const domains = readDomains(r, raw['domain'], dkim);
  const relay = readRelay(r, r.table(raw, 'relay', ''));
  const limits = readLimits(r, r.table(raw, 'limits', ''));
  const inbound = readInbound(r, r.table(raw, 'inbound', ''));
  const shutdown = readShutdown(r, r.table(raw, 'shutdown', ''));
  const server = readServer(r, r.table(raw, 'server', ''));
  const acmeHttpGiven = listenTable['acme_http'] !== undefined;
  const acme = readAcme(
    r,
    r.table(raw, 'acme', ''),
    hostname,
    { acmeHttp: listenRead.acmeHttp.length, acmeHttpGiven, https: listenRead.https.length },
    baseDir,
  );
  // TLS-ALPN-01 needs nothing on port 80: the default acme_http applies only to HTTP-01.
  const listen = acme.challenge === 'tls-alpn-01' && !acmeHttpGiven ? { ...listenRead, acmeHttp: [] } : listenRead;
  const mtaSts = readMtaSts(r, r.table(raw, 'mta_sts', ''), hostname);
  const hosting = domains.findIndex((d) => d.mtaSts !== undefined && d.mtaSts !== 'none');
  if (hosting >= 0 && listen.https.length === 0)
    r.warning(`domain[${hosting}].mta_sts`, 'is on but listen.https is empty: nothing serves the policy; add https = ["0.0.0.0:443", "[::]:443"] to [listen]');
  else if (hosting >= 0 && !acme.enabled)
    r.warning(
      `domain[${hosting}].mta_sts`,
      'is on but [acme] is off: senders fetch the policy only with a certificate for mta-sts.<domain>; turn ACME on, or make tls.cert_file cover those names',
    );
  const log = readLog(r, r.table(raw, 'log', ''));
  const outbound = readOutbound(r, r.table(raw, 'outbound', ''), baseDir);
  const queue = readQueue(r, r.table(raw, 'queue', ''));
  const store = readStore(r, r.table(raw, 'store', ''), baseDir, options.acceptPostgres, domains);
  const local = readLocal(r, r.table(raw, 'local', ''));
  const doctor = readDoctor(r, r.table(raw, 'doctor', ''));
  const statusHttp = readStatusHttp(r, r.table(raw, 'status_http', ''), listen.statusHttp, baseDir);
  const tlsrpt = readTlsrpt(r, r.table(raw, 'tlsrpt', ''), { dkimDomains: dkim.length });
  // A section that is not a table was reported by its reader above.
  const sub = (section: string): Table => {
    const t = raw[section];
    return isTable(t) ? r.table(t, 'rspamd', section) : {};
  };
  const rspamd = readRspamd(r, sub('inbound'), sub('outbound'));
  const srs = readSrs(r, r.table(raw, 'srs', ''), domains, path.resolve(baseDir, dataDirRaw), baseDir);
  const arc = readArc(r, r.table(raw, 'arc', ''), srs, dkim, inbound.authenticationResults);

  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  const config: Config = {
    hostname,
    dataDir: path.resolve(baseDir, dataDirRaw),
    listen,
    ...tls,
    auth,
    dkim,
    dns,
    domains,
    relay,
    limits,
    inbound,
    shutdown,
    server,
    acme,
    mtaSts,
    log,
    outbound,
    queue,
    store,
    local,
    doctor,
    statusHttp,
    tlsrpt,
    rspamd,
    srs,
    arc,
  };
  return { ok: true, config: deepFreeze(config), warnings: r.warnings };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
