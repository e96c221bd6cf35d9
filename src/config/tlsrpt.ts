// [[domain]] tlsrpt_rua (pure): where other domains send their TLS reports about us (RFC 8460
// §3, the rua of our _smtp._tls record). A mailbox of one of our domains ("tlsrpt@example.org",
// or "mailto:…" of it): its mail is read as reports on delivery. A "mailto:" address elsewhere or
// an "https:" URL: published only, reports go there and are not read here.
import { parseMailbox } from '../core/address.ts';
import type { Reader, Table } from './fields.ts';
import type { DomainConfig, TlsRptRua } from './types.ts';

/** The value as written, or undefined when the key is absent or empty (checked by checkTlsRptRua). */
export function readTlsRptRua(r: Reader, table: Table, prefix: string): string | undefined {
  const text = r.string(table, 'tlsrpt_rua', prefix, '').trim();
  return text === '' ? undefined : text;
}

/** Each domain's tlsrpt_rua (index-aligned with `written`) checked against all our domains. */
export function checkTlsRptRua(r: Reader, domains: readonly DomainConfig[], written: readonly (string | undefined)[]): (TlsRptRua | undefined)[] {
  return written.map((text, i) => (text === undefined ? undefined : checkOne(r, domains, text, `domain[${i}].tlsrpt_rua`)));
}

function checkOne(r: Reader, domains: readonly DomainConfig[], text: string, at: string): TlsRptRua | undefined {
  // RFC 8460 §3: commas and semicolons separate URIs and fields; one URI here, written plainly.
  if (/[,;!\s]/.test(text)) {
    r.problem(at, `"${text}" must be one address or URI without ",", ";", "!" or spaces, e.g. "tlsrpt@example.org"`);
    return undefined;
  }
  if (/^https:/i.test(text)) {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (!url || url.hostname === '') {
      r.problem(at, `"${text}" is not an https URL, e.g. "https://reports.example.net/tlsrpt"`);
      return undefined;
    }
    return { uri: url.href, mailbox: '' };
  }
  const mailto = /^mailto:/i.test(text);
  if (!mailto && /^[a-z][a-z0-9+.-]*:/i.test(text) && !text.includes('@')) {
    r.problem(at, `"${text}": RFC 8460 reports go to a "mailto:" address or an "https:" URL`);
    return undefined;
  }
  const address = mailto ? decodeURIComponent(text.slice('mailto:'.length)) : text;
  const parsed = parseMailbox(address);
  if (!parsed || parsed.domain.startsWith('[')) {
    r.problem(at, `"${address}" is not a mail address; write e.g. "tlsrpt@example.org"`);
    return undefined;
  }
  const mailbox = `${parsed.local.toLowerCase()}@${parsed.domain}`;
  const domain = domains.find((d) => d.name === parsed.domain);
  if (!domain) {
    if (mailto) return { uri: `mailto:${mailbox}`, mailbox: '' };
    r.problem(
      at,
      `"${address}" is not at one of our [[domain]]s, so its reports would not be read here; use a mailbox of ours, or write "mailto:${address}" to publish an address elsewhere`,
    );
    return undefined;
  }
  if (!receivesHere(domain, parsed.local.toLowerCase(), domains)) {
    r.problem(
      at,
      `"${mailbox}" is not one of our mailboxes (nor an alias of one): add "${parsed.local.toLowerCase()}" to the mailboxes or aliases of domain "${domain.name}"`,
    );
    return undefined;
  }
  return { uri: `mailto:${mailbox}`, mailbox };
}

/** A mailbox, an alias to a mailbox of the same domain, or the catch-all: delivered here (routing/recipients.ts). */
function receivesHere(domain: DomainConfig, local: string, domains: readonly DomainConfig[]): boolean {
  if (domain.mailboxes.includes(local)) return true;
  const alias = domain.aliases[local];
  if (alias === undefined) return domain.catchAll !== '';
  return !alias.includes('@') || domains.some((d) => alias.endsWith(`@${d.name}`));
}
