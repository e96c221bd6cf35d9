// The SPF/DKIM/ARC/DMARC steps of mailauth's authenticate(), composed so that nothing waits that
// need not: SPF (RFC 7208) can be evaluated at MAIL FROM and handed in, already settled, at the end
// of DATA; the DMARC record (RFC 7489 §6.6.3) is fetched while DKIM (RFC 6376) verifies instead of
// after it. authenticate() runs them one after the other, and its SPF cannot be given from outside,
// so this file repeats its few lines of glue for our options (not strict, no ARC seal, no BIMI, no
// trusted Received): the same mailauth functions, in the same data flow, give the same result and
// header fields. DNS I/O through the given resolver only.
//
//   checkSpf({ ip, helo, sender, mta, resolver })       → Promise<SPFResult>
//   warmUp(headerBlock, resolver)                      → starts the DMARC and DKIM key lookups (as the body streams; no evaluation)
//   authenticateInbound(message, { ..., spf?, dkim? }) → Promise<AuthenticateResult-like>
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { type ARCData, type ARCResult, arc, type DKIMVerifyResult, type DNSResolver, dkimVerify, type SPFResult, spf } from 'mailauth';
import { evaluateDmarc } from 'mailauth/lib/dmarc/index.js';
import { headerBlock } from '../message/body.ts';
import { headerFields } from '../message/header-fields.ts';
import { limitSignatures, MAX_DKIM_SIGNATURES, signingDomain } from './signatures.ts';

export type { SPFResult } from 'mailauth';

// The helpers authenticate() itself uses, from mailauth's own files (it has its own libmime):
// untyped, so each is given the one signature used here.
const fromMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
const libmime = fromMailauth('libmime') as { foldLines(text: string, lineLength: number): string };
/** RFC 7489 §6.6.3 policy discovery alone (the DNS lookups of a DMARC evaluation, without the evaluation). */
const getDmarcRecord = fromMailauth('./dmarc/get-dmarc-record.js') as (domain: string, resolver: DNSResolver) => Promise<unknown>;
const tools = fromMailauth('./tools.js') as {
  formatDomain(domain: string): string;
  formatAuthservId(mta: string, strict: boolean): string;
  getAlignment(fromDomain: string, domains: string[], strict: boolean): { domain: string } | false | undefined;
};

export interface SpfInput {
  ip: string;
  helo: string;
  /** MAIL FROM, '' for <>. */
  sender: string;
}

export interface CheckOptions extends SpfInput {
  /** The authserv-id (RFC 8601 §2.5): our hostname. */
  mta: string;
  resolver: DNSResolver;
}

type DmarcEvaluation = Awaited<ReturnType<typeof evaluateDmarc>>;

export interface InboundResult {
  dkim: DKIMVerifyResult;
  spf: SPFResult;
  dmarc: Exclude<DmarcEvaluation['response'], false> | false;
  /** The ARC chain as found, with `authResults` (our Authentication-Results value) for sealing. */
  arc: (ARCResult & { authResults?: string }) | false;
  /** Received-SPF, then Authentication-Results, CRLF after each (authenticate()'s non-strict order). */
  headers: string;
}

/** mailauth's SPF check with the HELO as authenticate() gives it: the IP when there is none, an address literal in brackets. */
export function checkSpf(options: CheckOptions): Promise<SPFResult> {
  let helo = options.helo || options.ip;
  if (helo && isIP(helo)) helo = `[${helo}]`;
  return spf({ ip: options.ip, helo, sender: options.sender, mta: options.mta, resolver: options.resolver, strict: false });
}

/**
 * SPF, DKIM, ARC and DMARC of one message. `spf`: the SPF evaluation started at MAIL FROM (the
 * same input); absent, it is started here. `dkim`: mailauth's DKIM verification of this same
 * message, fed as the body arrived (streaming.ts); when it gives undefined, the message is
 * verified here. Unless `warm` is false (warmUp ran as the header block arrived, or no DKIM
 * lookup comes before DMARC), the DMARC record lookups start at once, from the From: fields of
 * the header block, as a warm-up of the resolver's cache (its in-flight lookups are shared).
 * DMARC itself is evaluated once, when DKIM and SPF are known.
 */
export async function authenticateInbound(
  message: Parameters<typeof dkimVerify>[0],
  options: CheckOptions & { spf?: Promise<SPFResult>; dkim?: Promise<DKIMVerifyResult | undefined>; warm?: boolean },
): Promise<InboundResult> {
  const { resolver } = options;
  const spfResult = options.spf ?? checkSpf(options);
  spfResult.catch(() => {}); // awaited below; a failure while DKIM runs is not unhandled
  if (options.warm !== false && Buffer.isBuffer(message)) warmDmarc(message, resolver);
  const dkimResult = (await options.dkim) ?? (await dkimVerify(message, { resolver, sender: options.sender, strict: false }));
  const spfFacts = await spfResult;
  // The verifier always sets `arc` (its declared type has it optional), as authenticate() relies on.
  const arcResult = await arc(dkimResult.arc as ARCData, { resolver, strict: false, ip: options.ip });

  const arHeader: string[] = [];
  for (const row of dkimResult.results ?? []) arHeader.push(libmime.foldLines(row.info, 160));
  arHeader.push(libmime.foldLines(spfFacts.info, 160));
  if (arcResult?.info) arHeader.push(libmime.foldLines(arcResult.info, 160));

  let dmarcResult: InboundResult['dmarc'] = false;
  if (dkimResult.headerFrom) {
    const evaluation = await evaluateDmarc({
      headerFrom: dkimResult.headerFrom,
      fromFields: dkimResult.fromFields,
      spfDomains: spfFacts.status.result === 'pass' && spfFacts.domain ? [spfFacts.domain] : [],
      dkimDomains: (dkimResult.results ?? [])
        .filter((r) => r.status.result === 'pass')
        .map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized })),
      arcResult,
      resolver,
      strict: false,
    } as Parameters<typeof evaluateDmarc>[0]);
    dmarcResult = evaluation.response;
    const info = dmarcResult ? dmarcResult.info : undefined;
    if (info) arHeader.push(libmime.foldLines(info, 160));
    if (evaluation.dkimAligned && dmarcResult) realign(dkimResult, dmarcResult, evaluation.dkimAligned);
  }

  const arValue = `${tools.formatAuthservId(options.mta, false)};\r\n ${arHeader.join(';\r\n ')}`;
  const headers = [spfFacts.header, `Authentication-Results: ${arValue}`].filter(Boolean).join('\r\n');
  const arcFacts = arcResult ? Object.assign(arcResult, { authResults: arValue }) : false;
  return { dkim: dkimResult, spf: spfFacts, dmarc: dmarcResult, arc: arcFacts, headers: `${headers}\r\n` };
}

/**
 * As authenticate() does after DMARC: passing signatures take the DMARC verdict on alignment,
 * failing ones the record's alignment mode (the verifier only guessed from the Public Suffix List).
 */
function realign(dkim: DKIMVerifyResult, dmarc: Exclude<InboundResult['dmarc'], false>, aligned: Set<string>): void {
  const fromDomain = dmarc.status.header?.from ?? '';
  for (const row of dkim.results ?? []) {
    if (row.status.result === 'pass') row.status.aligned = aligned.has(tools.formatDomain(row.signingDomain ?? '')) ? row.signingDomain : false;
    else if (dmarc.alignment.dkim.strict)
      row.status.aligned =
        (row.status.aligned && row.signingDomain && (tools.getAlignment(fromDomain, [row.signingDomain], true) || undefined)?.domain) || false;
  }
}

/**
 * The lookups the header block alone tells, started while the rest of the body arrives: the
 * DMARC record of the From: domain and the keys (RFC 6376 §3.6.2.1: TXT at
 * selector._domainkey.domain) of the DKIM signatures that will be verified (signatures.ts). The
 * answers are discarded: the checks at the end of DATA find them in the resolver's cache.
 */
export function warmUp(header: Buffer, resolver: DNSResolver): void {
  warmDmarc(header, resolver);
  const fields = headerFields(headerBlock(limitSignatures(header, MAX_DKIM_SIGNATURES).message).toString('latin1'));
  for (const field of fields) {
    if (field.name !== 'dkim-signature') continue;
    const domain = signingDomain(field);
    const selector = /(?:^|;)[ \t]*s[ \t]*=[ \t]*([^;\s]+)/i.exec(field.value.replace(/\r?\n[ \t]+/g, ' '))?.[1];
    if (domain && selector) resolver(`${selector}._domainkey.${domain}`, 'TXT').catch(() => {});
  }
}

/**
 * Starts the DMARC record discovery for the From: domains (RFC 7489 §6.6.3, with its fallback to
 * the organizational domain) through the resolver, its answer discarded: the one evaluation after
 * DKIM then finds the records in the cache or in flight. Discovery only (mailauth's
 * getDmarcRecord), not a second evaluation. A From: this reads differently from mailauth only
 * costs that overlap, never a different result.
 */
function warmDmarc(message: Buffer, resolver: DNSResolver): void {
  const from = headerFields(headerBlock(message).toString('latin1')).filter((field) => field.name === 'from');
  const domains = new Set(
    from.flatMap((field) => [...field.value.matchAll(/[^\s<>"(),:;@]+@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi)].map((m) => (m[1] ?? '').toLowerCase())),
  );
  for (const domain of domains) getDmarcRecord(domain, resolver).catch(() => {});
}
