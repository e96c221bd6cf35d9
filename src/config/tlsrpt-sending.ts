// The [tlsrpt] section (pure): whether we send TLS reports (RFC 8460) to the domains we deliver
// to, and the organization and contact they name. On by default once a DKIM key exists (the mailed
// reports are DKIM-signed, RFC 8460 §5.3).
import type { Reader, Table } from './fields.ts';
import type { Config, TlsrptConfig } from './types.ts';

export function readTlsrpt(r: Reader, t: Table, context: { dkimDomains: number }): TlsrptConfig {
  r.unknownKeys(t, 'tlsrpt', ['enabled', 'organization', 'contact']);
  const enabled = r.boolean(t, 'enabled', 'tlsrpt', context.dkimDomains > 0);
  if (enabled && t['enabled'] === true && context.dkimDomains === 0)
    r.warning(
      'tlsrpt.enabled',
      'is on but no [[domain]] has dkim_selectors: mailed reports go unsigned and receivers may discard them; make a key (sealpost dkim keygen)',
    );
  const organization = t['organization'] === undefined ? undefined : r.string(t, 'organization', 'tlsrpt');
  if (typeof t['organization'] === 'string' && organization?.trim() === '')
    r.problem('tlsrpt.organization', 'must not be empty; write e.g. "Example Org", or leave it out for the hostname');
  const contact = t['contact'] === undefined ? undefined : r.string(t, 'contact', 'tlsrpt');
  if (typeof t['contact'] === 'string' && contact?.trim() === '')
    r.problem('tlsrpt.contact', 'must not be empty; write an address or URL, e.g. "postmaster@example.org", or leave it out for postmaster@ the first domain');
  return { enabled, ...(organization !== undefined ? { organization } : {}), ...(contact !== undefined ? { contact } : {}) };
}

/** The organization and contact a report names: as configured, else our hostname and postmaster@ the first domain. */
export function reportIdentity(config: Pick<Config, 'hostname' | 'domains' | 'tlsrpt'>): { organization: string; contact: string } {
  return {
    organization: config.tlsrpt.organization ?? config.hostname,
    contact: config.tlsrpt.contact ?? `postmaster@${config.domains[0]?.name ?? config.hostname}`,
  };
}
