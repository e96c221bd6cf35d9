// Intake: a message that has fully arrived (over SMTP, or from `sealpost send`) becomes a queued
// message. Routes its recipients, prepares outgoing mail (From: check, fix-ups, DKIM) or checks
// mail from other servers (SPF/DKIM/DMARC, then rspamd's verdict: refused, tagged for Junk or
// passed; with [outbound.rspamd] mail from our users too), puts our trace field in front, commits it to the queue
// and writes the "received" record. The caller answers only after this resolves (250 after the
// commit). Outcomes are values; the SMTP side turns a refusal into its reply.
//
// The checks that need only the envelope start earlier: mailFrom() kicks off SPF as MAIL FROM is
// accepted, and accept() finds its result settled in the arrival; with it comes a feed that takes
// the body as it arrives (the DKIM body hashes are done by the end of DATA), handed to the checks.
//
//   createIntake(deps) → { mailFrom(transaction) → EarlyChecks, accept(arrival) → Promise<IntakeOutcome>, openSpool() }
import type { OutgoingInput, Prepared } from '../auth/submission.ts';
import { bodyHead, bodySize, isSpooled, type MessageBody, prependTo, withHead } from '../core/body.ts';
import { isStorageFault, type StorageHealth } from '../db/storage-fault.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { ArcSealKey, BodyFeed, SPFResult, SpfInput, Verdict, VerifyInput } from '../mailauth/verify.ts';
import { headerBlock } from '../message/body.ts';
import { plainHeaderFacts } from '../message/header-facts.ts';
import { withSubject } from '../message/subject.ts';
import { asksTlsOptional } from '../message/tls-required.ts';
import type { QueueStoreContract } from '../queue/contract.ts';
import type { NewMessage, NewRecipient, Origin } from '../queue/message.ts';
import type { SpoolFile } from '../queue/spool.ts';
import type { QueueStore } from '../queue/store.ts';
import { isQueueUnavailable } from '../queue/unavailable.ts';
import { type Directory, decideRecipient } from '../routing/recipients.ts';
import type { RspamdScan, ScanResult } from '../rspamd/client.ts';
import { decide, type RspamdDecision, type RspamdFail, type ScanDirection, scanLabel } from '../rspamd/verdict.ts';

/** The spool file a large body is written to as it arrives (the SMTP side reaches the queue only through intake). */
export type { SpoolFile } from '../queue/spool.ts';

export interface IntakeDeps {
  /** The queue (SQLite or PostgreSQL, contract.ts) and the local spool large bodies are written to as they arrive. */
  store: Pick<QueueStoreContract, 'enqueue'> & Pick<QueueStore, 'spool'>;
  /** The current domain directory (swapped on reload). */
  directory: () => Directory;
  now: () => number;
  newId: () => string;
  /** Absent (the CLI): no "received" record. */
  log?: Logger;
  /** The disk as the queue sees it: a refused write is one 'storage' episode, answered 452. */
  storage?: StorageHealth;
  /** Outgoing mail: From: check, RFC 6409 §8 fix-ups, DKIM (src/auth/submission.ts). Absent: stored as received. */
  prepareOutgoing?: (input: OutgoingInput) => Promise<Prepared>;
  /** Mail from other servers: SPF/DKIM/DMARC (src/mailauth/verify.ts); `feed`: feedChecks' feed of this body. Absent: off. */
  verifyInbound?: (input: VerifyInput, feed?: BodyFeed) => Promise<Verdict>;
  /** With verifyInbound: a feed that takes the body as it arrives, for the checks at its end (offload/client.ts). */
  feedChecks?: (sender: string) => BodyFeed;
  /** With verifyInbound: SPF alone, started at MAIL FROM; undefined when it could not be had (verifyInbound then evaluates it). */
  checkSpf?: (input: SpfInput) => Promise<SPFResult | undefined>;
  /** [arc] enabled: mail from other servers that we forward gets an ARC set signed with this key. */
  arcSeal?: ArcSealKey;
  /** Content checks by rspamd (src/rspamd) for port 25 mail, and with `outbound` for our users' too. Absent: off. */
  rspamd?: RspamdIntake;
}

export interface RspamdIntake {
  scan: RspamdScan;
  fail: RspamdFail;
  outbound: boolean;
  /** Our host name, told to rspamd as MTA-Name. */
  hostname: string;
  /** Counts one scan for `sealpost status` (rspamd/stats.ts). */
  record?: (direction: ScanDirection, action: string) => void;
}

/** A message that has fully arrived, its line ends checked (CRLF only). */
export interface Arrival {
  origin: Exclude<Origin, 'bounce' | 'tlsrpt'>;
  /** Where it came in, for the log: mx, submission, submissions, local. */
  listener: string;
  sender: string;
  /** The envelope recipients as given; refused ones are dropped here (SMTP refused them at RCPT). */
  rcpts: readonly string[];
  /** May this client send to other domains (authenticated, relay.networks, a local program)? */
  relayAllowed: boolean;
  /** The authenticated user (submission). */
  user?: string;
  body: MessageBody;
  /** The body has 8-bit bytes, or the client declared 8BITMIME. */
  eightBit: boolean;
  /** The client declared SMTPUTF8. */
  smtputf8: boolean;
  /** RFC 8689 §4.1: MAIL FROM carried REQUIRETLS (accepted only inside TLS). */
  requireTls?: boolean;
  /** The SMTP client, for the checks, the queue row and the log. */
  client?: { ip: string; helo: string; tls?: string; reverseName?: string };
  /** Our trace field (a Received header ending in CRLF) for this queue id and these recipients. */
  trace: (id: string, recipients: readonly NewRecipient[], now: number) => string;
  /** What mailFrom() started for this transaction. */
  early?: EarlyChecks;
}

/** A transaction as MAIL FROM is accepted: enough for the checks of the envelope. */
export interface Transaction {
  origin: Exclude<Origin, 'bounce' | 'local'>;
  sender: string;
  relayAllowed: boolean;
  user?: string;
  client: { ip: string; helo: string };
}

/** Checks started at MAIL FROM, kept with the session's transaction and handed back in its Arrival. */
export interface EarlyChecks {
  /** RFC 7208 §2.4: SPF checks MAIL FROM (or the HELO for <>), both known at MAIL FROM. */
  spf?: { input: SpfInput; result: Promise<SPFResult | undefined> };
  /**
   * Push the body to it as it arrives (collect.ts); accept() hands it to the checks. Its header
   * block starts the lookups it names (DMARC, DKIM keys). Dropped by whoever ends the transaction otherwise.
   */
  body?: BodyFeed;
}

export type IntakeOutcome =
  | { ok: true; id: string }
  /** `refusal`: a policy refusal of this message (counted for the session), not a local failure. */
  | { ok: false; code: number; enhanced: string; text: string; refusal: boolean };

export interface Intake {
  /** MAIL FROM was accepted: starts the checks that need only the envelope (SPF, for mail from other servers). */
  mailFrom(transaction: Transaction): EarlyChecks;
  accept(arrival: Arrival): Promise<IntakeOutcome>;
  /** A new spool file for a large body as it arrives (queue/spool.ts). */
  openSpool(): SpoolFile;
}

const LOCAL_ERROR = { ok: false, code: 451, enhanced: '4.3.0', text: 'Local error in processing, try again later', refusal: false } as const;
/** PostgreSQL does not answer: no COMMIT, no 250 (queue/unavailable.ts). */
const NO_QUEUE_DB = { ok: false, code: 451, enhanced: '4.3.0', text: 'Queue database unavailable, try again later', refusal: false } as const;
const NO_STORAGE = { ok: false, code: 452, enhanced: '4.3.1', text: 'Insufficient system storage, try again later', refusal: false } as const;

export function createIntake(deps: IntakeDeps): Intake {
  const { log } = deps;
  return {
    openSpool: () => deps.store.spool.create(deps.newId()),
    mailFrom(t) {
      // The same mail accept() verifies: from other servers over SMTP, neither our users nor relay clients.
      const outgoing = t.user !== undefined || t.relayAllowed;
      if (!deps.verifyInbound || !deps.checkSpf || outgoing || t.origin !== 'smtp') return {};
      const input = { ip: t.client.ip, helo: t.client.helo, sender: t.sender };
      return {
        spf: { input, result: deps.checkSpf(input) },
        ...(deps.feedChecks ? { body: deps.feedChecks(t.sender) } : {}),
      };
    },
    async accept(arrival) {
      const directory = deps.directory();
      const recipients: NewRecipient[] = [];
      for (const rcpt of arrival.rcpts) {
        const d = decideRecipient(rcpt, directory, arrival.relayAllowed);
        if (d.kind === 'local') recipients.push({ rcpt, address: d.mailbox, transport: 'local' });
        else if (d.kind === 'remote') recipients.push({ rcpt, address: d.address, transport: 'remote' });
      }
      if (recipients.length === 0) return { ok: false, code: 554, enhanced: '5.5.1', text: 'No valid recipients', refusal: false };
      const id = deps.newId();
      const now = deps.now();
      const { sender, user, client } = arrival;
      // Our header fields between the trace field and the message: a DKIM signature or SPF/DKIM/DMARC results.
      let stamped: { prepend: string; message: MessageBody } = { prepend: '', message: arrival.body };
      let dkim: Extract<Prepared, { ok: true }>['dkim'] | undefined;
      let verdict: Verdict | undefined;
      let scanned: { result: ScanResult; decision: RspamdDecision } | undefined;
      const outgoing = user !== undefined || arrival.relayAllowed;
      if (outgoing && deps.rspamd?.outbound && arrival.origin !== 'local') {
        // Outbound scanning (rspamd sees User: and treats it as our user's mail): a refusal stops the submission.
        scanned = await scan(deps.rspamd, 'outbound', arrival, id, '', arrival.body);
        if (scanned.decision.kind === 'refuse') return refused(arrival, scanned.result, scanned.decision);
      }
      if (deps.prepareOutgoing && outgoing) {
        let prepared: Prepared;
        try {
          prepared = await deps.prepareOutgoing({ user, sender, body: arrival.body, queueId: id, now, directory });
        } catch (err) {
          log?.error({ err, queueId: id }, 'could not prepare an outgoing message (DKIM signing?)');
          return LOCAL_ERROR;
        }
        if (!prepared.ok) {
          if (log)
            mailLog(log, 'rejected', {
              stage: 'data',
              listener: arrival.listener,
              clientIp: client?.ip,
              user,
              from: sender,
              reply: `${prepared.code} ${prepared.enhanced}`,
              reason: prepared.text,
            });
          return { ok: false, code: prepared.code, enhanced: prepared.enhanced, text: prepared.text, refusal: true };
        }
        stamped = { prepend: prepared.signature, message: prepared.body };
        dkim = prepared.dkim;
      } else if (deps.verifyInbound && arrival.origin === 'smtp' && client) {
        const input = { ip: client.ip, helo: client.helo, sender };
        const early = arrival.early?.spf;
        // Started at MAIL FROM for this very envelope, and settled by now or soon (bounded in offload/client.ts).
        const spf = early && sameSpfInput(early.input, input) ? await early.result : undefined;
        // Mail from another server to a remote recipient is a forward (an alias, or a bounce to an SRS address): sealed (RFC 8617).
        const seal = deps.arcSeal && recipients.some((r) => r.transport === 'remote') ? deps.arcSeal : undefined;
        verdict = await deps.verifyInbound({ message: arrival.body, ...input, ...(spf ? { spf } : {}), ...(seal ? { seal } : {}) }, arrival.early?.body);
        if (verdict.error && log) mailLog(log, 'authres', { queueId: id, error: verdict.error }, 'sender authentication checks did not finish', 'warn');
        if (verdict.reject) {
          if (log)
            mailLog(log, 'rejected', {
              stage: 'data',
              listener: arrival.listener,
              clientIp: client.ip,
              from: sender,
              reply: `${verdict.reject.code} ${verdict.reject.enhanced}`,
              auth: verdict.results,
            });
          return { ok: false, ...verdict.reject, refusal: true };
        }
        stamped = { prepend: verdict.headers, message: verdict.message };
      }
      if (!outgoing && deps.rspamd && arrival.origin === 'smtp' && client) {
        // rspamd reads our Authentication-Results in front of the message.
        scanned = await scan(deps.rspamd, 'inbound', arrival, id, stamped.prepend, stamped.message);
        if (scanned.decision.kind === 'refuse') return refused(arrival, scanned.result, scanned.decision, verdict);
        // X-Spam first: the local courier files the message by the first X-Spam field (ours).
        const { headers, subject } = scanned.decision;
        stamped = {
          prepend: headers + stamped.prepend,
          message: subject === undefined ? stamped.message : withHead(stamped.message, withSubject(bodyHead(stamped.message), subject)),
        };
      }
      const block = headerBlock(bodyHead(stamped.message));
      // mailparser (loaded on first use) only for header blocks the plain reader cannot take (encoded words, folding).
      const headers =
        plainHeaderFacts(block) ??
        (await (await import('mailparser')).simpleParser(block, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }));
      const body = prependTo(stamped.message, Buffer.from(arrival.trace(id, recipients, now) + stamped.prepend));
      // RFC 8689 §4.1: with REQUIRETLS on MAIL FROM, a TLS-Required header field is ignored.
      const tlsRequired = arrival.requireTls ? 'requiretls' : asksTlsOptional(block) ? 'no' : undefined;
      const message: NewMessage = {
        id,
        receivedAt: now,
        sender,
        body,
        // RFC 6531: the envelope needs SMTPUTF8 when an address is not ASCII.
        smtputf8: arrival.smtputf8 || /[^\x00-\x7f]/.test(sender + recipients.map((r) => r.address).join('')),
        eightBit: arrival.eightBit,
        ...(tlsRequired ? { tlsRequired } : {}),
        origin: arrival.origin,
        clientIp: client?.ip,
        helo: client?.helo || undefined,
        headerMessageId: headers.messageId,
        subject: headers.subject,
        recipients,
      };
      try {
        await deps.store.enqueue(message);
        deps.storage?.ok();
      } catch (err) {
        if (isQueueUnavailable(err)) {
          log?.warn({ err, queueId: id, event: 'storage' }, 'queue database unavailable: answered 451');
          return NO_QUEUE_DB;
        }
        // A full disk (RFC 3463 §3.4: 4.3.1): one 'storage' record per episode, not one per message.
        if (deps.storage ? deps.storage.fault('enqueue', err) : isStorageFault(err)) return NO_STORAGE;
        log?.error({ err, queueId: id }, 'could not commit message to the queue');
        return LOCAL_ERROR;
      }
      if (log) {
        mailLog(log, 'received', {
          queueId: id,
          from: sender,
          to: recipients.map((r) => r.rcpt),
          size: bodySize(body),
          spooled: isSpooled(body) || undefined,
          messageId: headers.messageId,
          subject: headers.subject,
          clientIp: client?.ip,
          tls: client?.tls ?? null,
          ...(tlsRequired ? { tlsRequired } : {}),
          listener: arrival.listener,
          user,
          dkim,
          auth: verdict?.results,
          arc: verdict?.arc,
          rspamd: scanned && scanFields(scanned.result),
        });
      }
      return { ok: true, id };
    },
  };

  async function scan(
    rspamd: RspamdIntake,
    direction: ScanDirection,
    arrival: Arrival,
    queueId: string,
    prepend: string,
    message: MessageBody,
  ): Promise<{ result: ScanResult; decision: RspamdDecision }> {
    const { client } = arrival;
    const [version, cipher] = (client?.tls ?? '').split(' ');
    const result = await rspamd.scan({
      prepend,
      body: message,
      queueId,
      sender: arrival.sender,
      rcpts: arrival.rcpts,
      ip: client?.ip,
      helo: client?.helo || undefined,
      reverseName: client?.reverseName,
      user: arrival.user,
      mtaName: rspamd.hostname,
      ...(version && cipher ? { tls: { version, cipher } } : {}),
    });
    rspamd.record?.(direction, scanLabel(result));
    const decision = decide(result, rspamd.fail, direction);
    if (!result.ok && log)
      mailLog(
        log,
        'rspamd',
        { queueId, direction, error: result.error, ms: result.ms, fail: rspamd.fail },
        decision.kind === 'refuse' ? 'rspamd could not check a message: answered 451' : 'rspamd could not check a message: accepted unchecked',
        'warn',
      );
    return { result, decision };
  }

  function refused(arrival: Arrival, result: ScanResult, d: Extract<RspamdDecision, { kind: 'refuse' }>, verdict?: Verdict): IntakeOutcome {
    if (log)
      mailLog(log, 'rejected', {
        stage: 'data',
        listener: arrival.listener,
        clientIp: arrival.client?.ip,
        user: arrival.user,
        from: arrival.sender,
        reply: `${d.code} ${d.enhanced}`,
        reason: d.text,
        auth: verdict?.results,
        rspamd: scanFields(result),
      });
    return { ok: false, code: d.code, enhanced: d.enhanced, text: d.text, refusal: true };
  }
}

function sameSpfInput(a: SpfInput, b: SpfInput): boolean {
  return a.ip === b.ip && a.helo === b.helo && a.sender === b.sender;
}

/** The rspamd part of a log record. */
function scanFields(result: ScanResult): Record<string, unknown> {
  return result.ok
    ? { action: result.reply.action, score: result.reply.score, required: result.reply.requiredScore, ms: result.ms }
    : { action: 'error', error: result.error, ms: result.ms };
}
