// Inbound sender authentication on the MX listener: SPF (RFC 7208), DKIM (RFC 6376) and DMARC
// (RFC 7489) with mailauth, through our DNS resolver, as Received-SPF and Authentication-Results
// (RFC 8601) header fields; fields that claim to come from us are removed first. SPF may have
// been started at MAIL FROM (createSpfCheck) and comes in settled; checks.ts runs the rest without
// needless waits. With a sealing key (mail we forward), an ARC set (RFC 8617 §5.1) over the
// message as stored, with those results. DNS I/O only.
//
//   createInboundVerifier({ hostname, resolver, dmarcReject, timeoutMs }) → (input) → Promise<Verdict>
//   createSpfCheck({ hostname, resolver }) → ({ ip, helo, sender }) → Promise<SPFResult>
import { createSeal, type DKIMVerifyResult, type DNSResolver } from 'mailauth';
import { bodyHead, bodySize, bodyStream, isSpooled, type MessageBody, withHead } from '../core/body.ts';
import { headerBlock } from '../message/body.ts';
import { authenticateInbound, checkSpf, type SPFResult, type SpfInput } from './checks.ts';
import { cleanResults, dmarcRejection, unverified, type Verdict } from './results.ts';
import { limitSignatures, MAX_DKIM_SIGNATURES, readBody } from './signatures.ts';

export type { SPFResult, SpfInput } from './checks.ts';
export type { Verdict } from './results.ts';
export { readBody } from './signatures.ts';

export interface VerifyInput {
  /** The message as received (CRLF), without our Received header; large: spooled (read as a stream). */
  message: MessageBody;
  ip: string;
  helo: string;
  /** MAIL FROM, '' for <>. */
  sender: string;
  /** Add an ARC set signed with this key (a DKIM key of ours). */
  seal?: ArcSealKey;
  /** The SPF result of this ip, helo and sender, evaluated at MAIL FROM (createSpfCheck); absent: evaluated here. */
  spf?: SPFResult;
  /** DKIM of this message as its body arrived (streaming.ts): used when it is this message, else let go. */
  streamed?: StreamedDkim;
  /**
   * Set when `message` is the header block alone (the body stayed with the caller): the size of
   * the whole message. Enough for an unsigned message, and for a signed one whose body hashes were
   * streamed; otherwise the verifier rejects with BodyNeeded (send the whole message). No seal.
   */
  size?: number;
}

/** The checks of a message given without its body (VerifyInput.size) need the body after all: ask again with it. */
export class BodyNeeded extends Error {
  readonly code = 'EBODYNEEDED';
  constructor() {
    super('the checks need the body of this message');
  }
}

/** DKIM of a message verified as its body arrived (streaming.ts makes one). */
export interface StreamedDkim {
  /** The next bytes of DATA as received (dot-unstuffed); `taken`: called once the verifier has room for more. */
  push(chunk: Buffer, taken?: () => void): void;
  /**
   * The body has ended: mailauth's DKIM result when the message the checks get (its header block
   * and size, line ends checked) is what was pushed, else undefined (verify it whole). Rejects as
   * dkimVerify would on the same message.
   */
  finish(message: { header: Buffer; size: number }): Promise<DKIMVerifyResult | undefined>;
  /** Nothing more comes: the verifier is let go. */
  abort(): void;
}

/** A body fed, as it arrives, to the checks (on the checks thread or the loop): pushed chunk by chunk, or let go. */
export interface BodyFeed {
  /** False: the checks are behind; wait for onDrain before pushing more. */
  push(chunk: Buffer): boolean;
  /** Called once the checks have caught up (or the feed has ended). */
  onDrain(callback: () => void): void;
  /** No check will ask for it (the message was refused or the client left). */
  drop(): void;
}

export interface ArcSealKey {
  signingDomain: string;
  selector: string;
  privateKey: string;
}

export interface VerifierDeps {
  /** The authserv-id (RFC 8601 §2.5): our hostname. */
  hostname: string;
  resolver: DNSResolver;
  dmarcReject: boolean;
  /** Budget for all checks of one message; past it the message gets "none" and goes on. */
  timeoutMs: number;
}

/** Rejects only with BodyNeeded (a message given without its body, VerifyInput.size); any other failure is a verdict of "none". */
export function createInboundVerifier(deps: VerifierDeps): (input: VerifyInput) => Promise<Verdict> {
  return async (input) => {
    const cleaned = cleanResults(input.message, deps.hostname);
    const head = bodyHead(input.message);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deps.timeoutMs);
    });
    try {
      // At most MAX_DKIM_SIGNATURES key lookups, the From:-aligned signatures first (signatures.ts).
      const checked = withHead(input.message, limitSignatures(head, MAX_DKIM_SIGNATURES).message);
      const whole = isSpooled(checked) ? bodyStream(checked) : checked;
      const body = readBody(head);
      const omitted = input.size !== undefined;
      if (omitted && ((body && !input.streamed) || input.seal)) throw new BodyNeeded();
      // The body hashes done as it arrived: only the signature checks are left.
      const finished = body ? input.streamed?.finish({ header: headerBlock(head), size: input.size ?? bodySize(input.message) }) : input.streamed?.abort();
      // Without the body a streamed result that does not fit this message cannot be made up here.
      const streamed = omitted && finished ? finished.then((r) => r ?? Promise.reject(new BodyNeeded())) : finished;
      const checks = authenticateInbound(body ? whole : headerBlock(bodyHead(checked)), {
        ip: input.ip,
        helo: input.helo,
        sender: input.sender,
        mta: deps.hostname,
        resolver: deps.resolver,
        ...(input.spf ? { spf: Promise.resolve(input.spf) } : {}),
        ...(streamed ? { dkim: streamed } : {}),
        // The DMARC lookups start with DKIM's only where DKIM waits for keys not asked for yet (a body not fed).
        warm: body && !streamed,
      });
      checks.catch(() => {}); // a late failure after the deadline is not unhandled
      const result = await Promise.race([checks, deadline]);
      if (result === 'timeout') return unverified(deps.hostname, cleaned, `checks did not finish within ${deps.timeoutMs} ms`);
      const dmarc = result.dmarc || undefined;
      const firstDkim = result.dkim.results.find((r) => r.status.result === 'pass') ?? result.dkim.results[0];
      const headers = result.headers;
      const sealed = input.seal && result.arc ? await seal(cleaned.message, input.seal, result.arc) : undefined;
      return {
        headers: (sealed?.headers ?? '') + headers,
        ...(sealed ? { arc: sealed.outcome } : {}),
        message: cleaned.message,
        results: { spf: result.spf ? result.spf.status.result : 'none', dkim: firstDkim?.status.result ?? 'none', dmarc: dmarc?.status.result ?? 'none' },
        reject: dmarcRejection(
          dmarc && { result: dmarc.status.result, policy: dmarc.policy, testMode: dmarc.testMode, domain: dmarc.domain },
          deps.dmarcReject,
        ),
        removed: cleaned.removed,
      };
    } catch (err) {
      if (err instanceof BodyNeeded) throw err;
      return unverified(deps.hostname, cleaned, err instanceof Error ? err.message : String(err));
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * RFC 8617 §5.1: an ARC set whose ARC-Authentication-Results are our results and whose cv= is the
 * chain's state as we found it (a chain that fails our validation: cv=fail); a chain whose newest
 * seal already says cv=fail is not sealed again (§5.1 step 2, mailauth refuses it). Over the
 * message as it will be stored (our forged-results removal done), so the ARC-Message-Signature
 * verifies at the next hop.
 */
async function seal(
  message: MessageBody,
  key: ArcSealKey,
  arc: { status: { result: string; shouldSeal?: boolean }; authResults?: string },
): Promise<{ headers: string; outcome: string }> {
  const cv = arc.status.result;
  if (!['none', 'pass'].includes(cv) && !arc.status.shouldSeal) return { headers: '', outcome: `not sealed: the ARC chain is ${cv}` };
  const created = await createSeal(isSpooled(message) ? bodyStream(message) : message, {
    seal: { ...key, cv, ...(arc.authResults ? { authResults: arc.authResults } : {}) },
  });
  const failed = created.errors[0];
  if (created.headers.length === 0) return { headers: '', outcome: `not sealed: ${failed?.err.message ?? 'no ARC set made'}` };
  return { headers: `${created.headers.join('\r\n')}\r\n`, outcome: 'sealed' };
}

/**
 * SPF alone, as the verifier would evaluate it (RFC 7208 §2.4: MAIL FROM, or the HELO for <>):
 * the client IP, HELO and sender are known at MAIL FROM, so the evaluation can run while the
 * client sends RCPT and DATA. Rejects only on a bug in mailauth (DNS failures are temperror).
 */
export function createSpfCheck(deps: Pick<VerifierDeps, 'hostname' | 'resolver'>): (input: SpfInput) => Promise<SPFResult> {
  return (input) => checkSpf({ ...input, mta: deps.hostname, resolver: deps.resolver });
}
