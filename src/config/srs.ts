// The [srs] and [arc] sections (pure): the domain SRS addresses are made at (default our first
// domain), the secret file (default <data_dir>/srs/secret, made at start when absent), how long a
// bounce address stays valid, and whether forwarded mail gets an ARC set (RFC 8617) signed with
// that domain's DKIM key.
import path from 'node:path';
import { canonicalDomain } from '../core/address.ts';
import type { Reader, Table } from './fields.ts';
import type { ArcConfig, DkimDomain, DomainConfig, SrsConfig } from './types.ts';

export function readSrs(r: Reader, t: Table, domains: readonly DomainConfig[], dataDir: string, baseDir: string): SrsConfig {
  r.unknownKeys(t, 'srs', ['domain', 'secret_file', 'max_age_days']);
  const given = r.string(t, 'domain', 'srs', '');
  const domain = given === '' ? (domains[0]?.name ?? '') : canonicalDomain(given);
  if (given !== '' && (domain === '' || !domain.includes('.') || domain.startsWith('[')))
    r.problem('srs.domain', `"${given}" is not a domain; write one of your domains (its MX must be this server), e.g. "example.org"`);
  else if (given !== '' && !domains.some((d) => d.name === domain))
    r.warning('srs.domain', `${domain} is not one of the [[domain]] entries: its MX must still point at this server, or bounces to forwarded mail are lost`);
  const secretFile = r.string(t, 'secret_file', 'srs', '');
  return {
    domain,
    secretFile: secretFile === '' ? path.join(dataDir, 'srs', 'secret') : path.resolve(baseDir, secretFile),
    maxAgeDays: r.integer(t, 'max_age_days', 'srs', 21, 1, 1023),
  };
}

export function readArc(r: Reader, t: Table, srs: SrsConfig, dkim: readonly DkimDomain[], authenticationResults: boolean): ArcConfig {
  r.unknownKeys(t, 'arc', ['enabled']);
  const enabled = r.boolean(t, 'enabled', 'arc', false);
  // RFC 8617 §4.1.1: the ARC-Authentication-Results are our checks' results; without the checks there is nothing to seal.
  if (enabled && !authenticationResults)
    r.problem('arc.enabled', 'needs the SPF/DKIM/DMARC checks of inbound mail: remove authentication_results = false from [inbound]');
  if (enabled && !dkim.some((d) => d.domain === srs.domain && d.selectors.length > 0))
    r.problem(
      'arc.enabled',
      `ARC sets are signed with a DKIM key of the [srs] domain ${srs.domain || '(none)'}, which has none: run sealpost dkim keygen --domain ${srs.domain || 'D'} --selector S and list S in that domain's dkim_selectors`,
    );
  return { enabled };
}
