// `sealpost dane show [--json] --config FILE`: the TLSA records to publish for our own host
// (_25._tcp.<hostname>, 3 1 1 of the key port 25 serves: tls.cert_file, else ACME, else self-signed), plus the staged next key's once
// `sealpost dane rollover` has staged one, in zone-file form.
// `sealpost dane rollover --config FILE`: stages a new ACME certificate key (acme.key_type) in the
// cert cache; the first renewal at least acme.rollover_after later switches to it (acme/key-choice.ts).
// Reads the cert cache and the certificate files; rollover writes data_dir/certs/acme/<hostname>/next-key.json.
import path from 'node:path';
import { cacheRoot, ensureCacheDir, loadEntry, loadStagedKey, readOptional, type StagedKeyRecord, saveStagedKey } from '../acme/cache.ts';
import { rolloverAt } from '../acme/key-choice.ts';
import { createKey } from '../acme/order.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { spkiSha256, tlsaLine, tlsaName } from '../records/tlsa.ts';
import { withFileWriter } from '../shared-files/node.ts';
import { loadCertFiles } from '../tls/files.ts';
import { selfSignedDir } from '../tls/self-signed.ts';
import type { Args } from './args.ts';

type Out = Pick<NodeJS.WriteStream, 'write'>;

/** The key port 25 serves for the hostname, and where it comes from. */
interface Served {
  source: 'acme' | 'operator' | 'self-signed';
  keyPem: string;
}

export interface TlsaShow {
  name: string;
  records: { key: 'current' | 'next'; usage: 3; selector: 1; matching: 1; data: string; line: string; note: string }[];
  warnings: string[];
}

export async function run(configFile: string, args: Args, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const sub = args.words[1];
  if (sub !== 'show' && sub !== 'rollover') {
    err.write(`sealpost dane: unknown subcommand "${sub ?? ''}"\nusage: sealpost dane show [--json] --config FILE | sealpost dane rollover --config FILE\n`);
    return 2;
  }
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const { config } = loaded;
  if (sub === 'rollover') return rollover(config, out, err);
  const show = await tlsaShow(config);
  if (show === undefined) {
    err.write(`sealpost dane show: no certificate for ${config.hostname} yet: start the daemon once (it makes one), then run this again\n`);
    return 1;
  }
  if (args.flags.has('json')) out.write(`${JSON.stringify(show, null, 2)}\n`);
  else out.write(renderShow(show));
  return 0;
}

/** The records to publish, or undefined when no certificate exists yet. */
export async function tlsaShow(config: Config): Promise<TlsaShow | undefined> {
  const served = await servedKey(config);
  if (!served) return undefined;
  const records: TlsaShow['records'] = [];
  const warnings: string[] = [];
  const current = spkiSha256(served.keyPem);
  records.push({
    key: 'current',
    usage: 3,
    selector: 1,
    matching: 1,
    data: current,
    line: tlsaLine(config.hostname, current),
    note: `current key (${served.source})`,
  });
  if (served.source === 'acme') {
    const staged = await loadStagedKey(cacheRoot(config.dataDir), config.hostname);
    if (staged) {
      const next = spkiSha256(staged.keyPem);
      if (next !== current)
        records.push({ key: 'next', usage: 3, selector: 1, matching: 1, data: next, line: tlsaLine(config.hostname, next), note: nextNote(config, staged) });
    }
    if (!config.acme.reuseKey) warnings.push('acme.reuse_key is false: every renewal makes a new key and this record stops matching; set reuse_key = true');
  } else if (served.source === 'self-signed') {
    warnings.push('this is the self-signed certificate: its key changes when it is regenerated (30 days before it expires); use ACME or your own certificate');
  } else {
    warnings.push(`your own certificate (tls.cert_file): keep its key when you renew it, or publish the new key's record before you switch`);
  }
  return { name: tlsaName(config.hostname), records, warnings };
}

function nextNote(config: Config, staged: StagedKeyRecord): string {
  const at = new Date(rolloverAt({ stagedAt: Date.parse(staged.stagedAt) }, config.acme.rolloverAfterMs)).toISOString();
  return `next key, staged ${staged.stagedAt}: the first renewal after ${at} switches to it`;
}

export function renderShow(show: TlsaShow): string {
  const lines = [`; TLSA records for ${show.name} (DANE-EE, SubjectPublicKeyInfo, SHA-256: RFC 7672 §3.1.1); publish in a DNSSEC-signed zone`];
  for (const r of show.records) lines.push(`${r.line}   ; ${r.note}`);
  if (show.records.length > 1)
    lines.push('; publish both now; once the switch is done, `sealpost dane show` prints only the new one: then remove the old record');
  for (const w of show.warnings) lines.push(`; warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** What port 25 serves for the hostname: the operator's files (they win for their names), else the ACME certificate, else the self-signed one. */
async function servedKey(config: Config): Promise<Served | undefined> {
  if (config.tls.certFile) {
    const files = await loadCertFiles(config.tls.certFile, config.tls.keyFile);
    if (files.ok) return { source: 'operator', keyPem: files.material.keyPem };
  }
  const entry = await loadEntry(cacheRoot(config.dataDir), config.hostname);
  if (entry.kind === 'found') return { source: 'acme', keyPem: entry.entry.keyPem };
  const keyPem = await readOptional(path.join(selfSignedDir(config.dataDir), 'key.pem'));
  return keyPem === undefined ? undefined : { source: 'self-signed', keyPem };
}

async function rollover(config: Config, out: Out, err: Out): Promise<number> {
  if (!config.acme.enabled) {
    err.write(
      'sealpost dane rollover: [acme] enabled is false: the switch happens at an ACME renewal; with your own certificate, stage its next key yourself\n',
    );
    return 1;
  }
  const root = cacheRoot(config.dataDir);
  const existing = await loadStagedKey(root, config.hostname);
  if (existing) {
    out.write(`a next key is already staged (${existing.stagedAt}); publish its record:\n`);
  } else {
    await ensureCacheDir(root);
    const keyPem = await createKey(config.acme.keyType);
    await withFileWriter(config.store, config.dataDir, (files) => saveStagedKey(root, config.hostname, { keyPem, stagedAt: new Date().toISOString() }, files));
    out.write(`staged a new ${config.acme.keyType} key; publish its record next to the current one:\n`);
  }
  const show = await tlsaShow(config);
  if (show) out.write(renderShow(show));
  else out.write(`; no certificate yet: the first issuance uses the staged key once rollover_after has passed, else a new one\n`);
  return 0;
}
