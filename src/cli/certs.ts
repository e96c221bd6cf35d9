// `sealpost certs --config FILE [--json]`: each certificate (source, names, issuer, not-after,
// next renewal, last error), read from the files the daemon keeps; starts nothing.
// `sealpost certs renew --config FILE [--force]`: asks the running daemon through a request file
// in data_dir/certs/acme/control/ (see src/acme/control.ts); when no daemon claims it within a
// few seconds, renews on its own (binds listen.acme_http for HTTP-01, writes the cache; the
// daemon picks the certificate up at its next start).
import path from 'node:path';
import { cacheRoot, loadEntry, readOptional } from '../acme/cache.ts';
import { requestRenewal } from '../acme/control.ts';
import { certificateNames, describeOutcome, startAcme } from '../acme/manager.ts';
import { createChallengeTable, startChallengeServer } from '../acme/responder.ts';
import { renewalTime } from '../acme/schedule.ts';
import { readStatus } from '../acme/status.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { createLogger } from '../log/log.ts';
import { startNodeSharing } from '../shared-files/node.ts';
import { loadCertFiles } from '../tls/files.ts';
import { type ParsedMaterial, parseMaterial } from '../tls/material.ts';
import { RENEW_BEFORE_MS, selfSignedDir } from '../tls/self-signed.ts';
import type { Args } from './args.ts';

export interface CertListing {
  source: 'acme' | 'operator' | 'self-signed';
  names: string[];
  issuer?: string;
  serial?: string;
  notBefore?: string;
  notAfter?: string;
  /** When it will be renewed (ACME, self-signed) or why nobody renews it (operator). */
  nextRenewalAt?: string;
  renewal: string;
  failures?: number;
  /** After failures: when the daemon tries again. */
  nextAttemptAt?: string;
  lastError?: string;
  lastErrorAt?: string;
}

type Out = Pick<NodeJS.WriteStream, 'write'>;

/** What every listing shows of a certificate it could parse. */
function certFacts(parsed: ParsedMaterial): Pick<CertListing, 'names' | 'issuer' | 'serial' | 'notBefore' | 'notAfter'> {
  return {
    names: [...parsed.names],
    issuer: parsed.issuer,
    serial: parsed.chain[0]?.serialNumber,
    notBefore: iso(parsed.notBefore),
    notAfter: iso(parsed.notAfter),
  };
}

export async function run(args: Args, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const configFile = args.values.get('config');
  if (configFile === undefined) {
    err.write('sealpost certs: --config FILE is required\n');
    return 2;
  }
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const sub = args.words[1];
  if (sub === undefined) return list(loaded.config, args.flags.has('json'), out);
  if (sub === 'renew') return renew(loaded.config, args.flags.has('force'), out, err);
  err.write(`sealpost certs: unknown subcommand "${sub}"; try: sealpost certs renew --config FILE [--force]\n`);
  return 2;
}

async function list(config: Config, json: boolean, out: Out): Promise<number> {
  const certs = await collect(config);
  if (json) {
    out.write(`${JSON.stringify({ hostname: config.hostname, certificates: certs }, null, 2)}\n`);
    return 0;
  }
  if (certs.length === 0)
    out.write(
      `no certificates yet for ${config.hostname}: the daemon makes a self-signed one on first start${config.acme.enabled ? ' and then asks the ACME CA' : ''}\n`,
    );
  for (const c of certs) {
    out.write(`${c.source}: ${c.names.join(', ') || '(no names)'}\n`);
    const rows: [string, string | undefined][] = [
      ['issuer', c.issuer],
      ['serial', c.serial],
      ['not after', c.notAfter],
      ['next renewal', c.nextRenewalAt ? `${c.nextRenewalAt} (${c.renewal})` : c.renewal],
      [
        'last error',
        c.lastError ? `${c.lastError} (at ${c.lastErrorAt ?? '?'}; ${c.failures ?? 1} failed attempt${c.failures === 1 ? '' : 's'} in a row)` : 'none',
      ],
      ['next attempt', c.lastError ? (c.nextAttemptAt ?? 'when the daemon next starts') : undefined],
    ];
    for (const [label, value] of rows) if (value !== undefined) out.write(`  ${`${label}:`.padEnd(14)}${value}\n`);
  }
  return 0;
}

/** Every certificate Sealpost would serve, from the files: ACME cache + status, operator files, self-signed. */
export async function collect(config: Config): Promise<CertListing[]> {
  const certs: CertListing[] = [];
  const root = cacheRoot(config.dataDir);
  const status = (await readStatus(root))?.certificates[0];
  const entry = await loadEntry(root, config.hostname);
  if (entry.kind !== 'none' || status || config.acme.enabled) {
    const listing: CertListing = { source: 'acme', names: status?.names ?? certificateNames(config), renewal: 'not issued yet' };
    const parsed = entry.kind === 'found' ? parseMaterial(entry.entry) : undefined;
    if (parsed?.ok) {
      Object.assign(listing, certFacts(parsed.parsed));
      listing.nextRenewalAt = status?.nextRenewalAt ?? iso(renewalTime(parsed.parsed, entry.kind === 'found' ? entry.entry.meta.jitter : 0));
      listing.renewal = status?.ari
        ? `inside the CA's renewal window ${status.ari.windowStart} – ${status.ari.windowEnd}`
        : 'when a third of its lifetime is left';
    } else if (entry.kind !== 'none') {
      listing.renewal = 'cached certificate unusable; the daemon orders a new one';
      listing.lastError = entry.kind === 'unreadable' ? entry.reason : parsed && !parsed.ok ? parsed.reason : 'unusable';
    }
    if (status?.lastError)
      Object.assign(listing, { lastError: status.lastError, lastErrorAt: status.lastErrorAt, failures: status.failures, nextAttemptAt: status.nextAttemptAt });
    if (!config.acme.enabled) listing.renewal = `${listing.renewal}; acme.enabled is false, so nothing renews it`;
    certs.push(listing);
  }
  if (config.tls.certFile) {
    const files = await loadCertFiles(config.tls.certFile, config.tls.keyFile);
    if (files.ok) {
      const parsed = parseMaterial(files.material);
      if (parsed.ok)
        certs.push({
          source: 'operator',
          ...certFacts(parsed.parsed),
          renewal: `yours to renew: ${config.tls.certFile} (reloaded on SIGHUP)`,
        });
    } else {
      certs.push({ source: 'operator', names: [], renewal: `yours to renew: ${config.tls.certFile}`, lastError: files.reason });
    }
  }
  const selfDir = selfSignedDir(config.dataDir);
  const [certPem, keyPem] = await Promise.all([readOptional(path.join(selfDir, 'cert.pem')), readOptional(path.join(selfDir, 'key.pem'))]);
  if (certPem !== undefined && keyPem !== undefined) {
    const parsed = parseMaterial({ certPem, keyPem });
    if (parsed.ok) {
      certs.push({
        source: 'self-signed',
        ...certFacts(parsed.parsed),
        nextRenewalAt: iso(parsed.parsed.notAfter - RENEW_BEFORE_MS),
        renewal: 'regenerated by the daemon 30 days before expiry; served only when nothing better covers a name',
      });
    }
  }
  return certs;
}

async function renew(config: Config, force: boolean, out: Out, err: Out): Promise<number> {
  if (!config.acme.enabled) {
    err.write('sealpost certs renew: [acme] enabled is false in this config; set enabled = true (and directory, email) first\n');
    return 1;
  }
  const root = cacheRoot(config.dataDir);
  const answer = await requestRenewal(root, force, Date.now, { pickupMs: 5000, resultMs: 10 * 60_000 });
  if (answer.kind === 'answered') {
    for (const line of answer.result.messages) out.write(`${line}\n`);
    return answer.result.ok ? 0 : 1;
  }
  if (answer.kind === 'timeout') {
    err.write(`sealpost certs renew: the daemon took request ${answer.id} but gave no answer within 10 minutes; see its log (event "cert")\n`);
    return 1;
  }
  // No daemon answered: renew here, with our own HTTP-01 responder on listen.acme_http.
  out.write('no running daemon answered; renewing without it\n');
  const log = createLogger(config.log.level, process.stderr);
  // Several nodes: the cache goes to PostgreSQL, and only the renewer lock's holder orders.
  const sharing =
    config.store.kind === 'postgres' ? await startNodeSharing(config.store, config.dataDir, { log, now: Date.now, pollMs: 3_600_000 }) : undefined;
  const challenges = sharing ? sharing.challenges(createChallengeTable()) : createChallengeTable();
  let responder: Awaited<ReturnType<typeof startChallengeServer>>;
  try {
    responder = await startChallengeServer(config.listen.acmeHttp, challenges, log);
  } catch (e) {
    await sharing?.close();
    err.write(`sealpost certs renew: ${(e as Error).message}; if the daemon runs, it did not answer: check its log\n`);
    return 1;
  }
  try {
    const nodes = sharing ? { files: sharing.files, leader: sharing.leader } : {};
    const manager = await startAcme({ config, challenges, log, clock: { now: Date.now }, mode: 'once', ...nodes });
    try {
      const outcome = await manager.renewNow(force);
      out.write(`${describeOutcome(outcome)}\n`);
      return outcome.kind === 'failed' ? 1 : 0;
    } finally {
      await manager.stop();
    }
  } finally {
    await responder.close();
    await sharing?.close();
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
