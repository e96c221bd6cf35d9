// The records of a config as it stands: its domains and hostname, doctor.addresses (or the
// machine's), the DKIM keys on disk and the ACME account once it exists. Reads key and ACME files.
import { readFile } from 'node:fs/promises';
import { cacheRoot, loadAccountUrl } from '../acme/cache.ts';
import type { Config } from '../config/types.ts';
import { dkimKeyPath, dkimRecord } from '../dkim/keys.ts';
import { type DnsRecord, mailRecords } from './records.ts';

/** DMARC reports go to dmarc@ when the domain receives it, else postmaster@ (RFC 5321 §4.5.1: always there). */
export function dmarcMailbox(config: Config, domain: string): string {
  const d = config.domains.find((x) => x.name === domain);
  const local = d && (d.mailboxes.includes('dmarc') || 'dmarc' in d.aliases) ? 'dmarc' : 'postmaster';
  return `${local}@${domain}`;
}

export async function recordsFromConfig(config: Config, addresses: readonly string[]): Promise<{ records: DnsRecord[]; problems: string[] }> {
  const problems: string[] = [];
  const dkim: { domain: string; selector: string; record: string }[] = [];
  for (const { domain, selectors } of config.dkim) {
    for (const selector of selectors) {
      const file = dkimKeyPath(config.dataDir, domain, selector);
      try {
        dkim.push({ domain, selector, record: dkimRecord(await readFile(file, 'utf8')) });
      } catch (err) {
        problems.push(
          `DKIM ${domain} selector ${selector}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); make it with sealpost dkim keygen --domain ${domain} --selector ${selector} --config FILE`,
        );
      }
    }
  }
  const accountUrl = config.acme.enabled ? await loadAccountUrl(cacheRoot(config.dataDir), config.acme.directory) : undefined;
  const records = mailRecords({
    hostname: config.hostname,
    domains: config.domains.map((d) => d.name),
    addresses,
    dkim,
    acme: { enabled: config.acme.enabled, directory: config.acme.directory, ...(accountUrl ? { accountUrl } : {}) },
    dmarcRua: (domain) => dmarcMailbox(config, domain),
  });
  return { records, problems };
}
