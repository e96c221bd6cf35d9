// Accepting a message whose DATA is complete: bare-newline check, routing of its recipients,
// outgoing preparation (fix-ups, DKIM) or inbound checks (SPF/DKIM/DMARC), the Received header,
// the commit to the queue and the "received" log record. The 250 is sent only after this resolves.
import type { SMTPServerSession } from 'smtp-server';
import type { Prepared } from '../auth/submission.ts';
import { isStorageFault } from '../db/storage-fault.ts';
import { mailLog } from '../log/log.ts';
import type { Verdict } from '../mailauth/verify.ts';
import type { NewRecipient } from '../queue/message.ts';
import { BARE_NEWLINE_REASON, checkNewlines, hasEightBit, headerBlock } from '../message/body.ts';
import { plainHeaderFacts } from '../message/header-facts.ts';
import { type MessageBody, bodyHead, bodySize, isSpooled, prependTo } from '../core/body.ts';
import type { Collected } from './collect.ts';
import type { InboundDeps, ListenerRole, SessionState } from './listener.ts';
import { receivedHeader } from '../message/received.ts';
import { decideRecipient } from '../routing/recipients.ts';
import { mailFrom, reply, sessionUser } from './replies.ts';

export interface AcceptorDeps {
  deps: InboundDeps;
  role: ListenerRole;
  relayAllowed: (session: SMTPServerSession) => boolean;
  /** Counts a refusal for the session record and returns the error to answer with. */
  refuse: (session: SMTPServerSession, err: Error) => Error;
  stateOf: (session: SMTPServerSession) => SessionState | undefined;
}

export function createAcceptor({ deps, role, relayAllowed, refuse, stateOf }: AcceptorDeps): (session: SMTPServerSession, data: Collected) => Promise<string> {
  const { config, log } = deps;
  const submission = role !== 'mx';
  /** DATA is complete: check, stamp, commit, then (only then) answer 250. Returns the queue id. */
  return async function accept(session: SMTPServerSession, data: Collected): Promise<string> {
    if (data.kind === 'too-big') throw reply(552, '5.3.4', `Message size exceeds fixed limit of ${config.limits.messageSize} bytes`);
    if (data.kind === 'bare') throw refuse(session, reply(550, '5.6.0', BARE_NEWLINE_REASON));
    if (data.kind === 'no-room') {
      log.error({ clientIp: session.remoteAddress, reason: data.reason }, 'a message over the memory budget could not be spooled');
      throw reply(452, '4.3.1', 'Insufficient system storage, try again later');
    }
    if (data.kind === 'memory') {
      const checked = checkNewlines(data.body, config.inbound.bareNewline);
      if (!checked.ok) throw refuse(session, reply(550, '5.6.0', checked.reason));
      return stampAndQueue(session, checked.body, hasEightBit(checked.body));
    }
    let committed = false;
    try {
      const id = await stampAndQueue(session, data.body, data.eightBit);
      committed = true;
      return id;
    } finally {
      // Refused or not committed: the spool file goes (a crash here leaves an orphan, swept at start).
      if (!committed) await data.spool.abort();
    }
  };

  /** Routing, preparation or checks, the Received header, the commit; returns the queue id. */
  async function stampAndQueue(session: SMTPServerSession, received: MessageBody, eightBit: boolean): Promise<string> {
    const directory = deps.directory();
    const recipients: NewRecipient[] = [];
    for (const r of session.envelope.rcptTo) {
      const d = decideRecipient(r.address, directory, relayAllowed(session));
      if (d.kind === 'local') recipients.push({ rcpt: r.address, address: d.mailbox, transport: 'local' });
      else if (d.kind === 'remote') recipients.push({ rcpt: r.address, address: d.address, transport: 'remote' });
    }
    if (recipients.length === 0) throw reply(554, '5.5.1', 'No valid recipients');
    const id = deps.newId();
    const now = deps.now();
    const state = stateOf(session);
    const sender = mailFrom(session);
    const user = sessionUser(session);
    // Our header fields between the Received header and the message: a DKIM signature or SPF/DKIM/DMARC results.
    let stamped: { prepend: string; message: MessageBody } = { prepend: '', message: received };
    let dkim: Extract<Prepared, { ok: true }>['dkim'] | undefined;
    let verdict: Verdict | undefined;
    if (deps.prepareOutgoing && (user !== undefined || relayAllowed(session))) {
      const prepared = await deps.prepareOutgoing({ user, sender, body: received, queueId: id, now, directory }).catch((err: unknown) => {
        log.error({ err, queueId: id }, 'could not prepare an outgoing message (DKIM signing?)');
        throw reply(451, '4.3.0', 'Local error in processing, try again later');
      });
      if (!prepared.ok) {
        mailLog(log, 'rejected', { stage: 'data', listener: role, clientIp: session.remoteAddress, user, from: sender, reply: `${prepared.code} ${prepared.enhanced}`, reason: prepared.text });
        throw refuse(session, reply(prepared.code, prepared.enhanced, prepared.text));
      }
      stamped = { prepend: prepared.signature, message: prepared.body };
      dkim = prepared.dkim;
    } else if (deps.verifyInbound && !submission) {
      verdict = await deps.verifyInbound({ message: received, ip: session.remoteAddress, helo: session.hostNameAppearsAs || '', sender });
      if (verdict.error) mailLog(log, 'authres', { queueId: id, error: verdict.error }, 'sender authentication checks did not finish', 'warn');
      if (verdict.reject) {
        mailLog(log, 'rejected', { stage: 'data', listener: role, clientIp: session.remoteAddress, from: sender, reply: `${verdict.reject.code} ${verdict.reject.enhanced}`, auth: verdict.results });
        throw refuse(session, reply(verdict.reject.code, verdict.reject.enhanced, verdict.reject.text));
      }
      stamped = { prepend: verdict.headers, message: verdict.message };
    }
    const block = headerBlock(bodyHead(stamped.message));
    // mailparser (loaded on first use) only for header blocks the plain reader cannot take (encoded words, folding).
    const headers = plainHeaderFacts(block) ?? (await (await import('mailparser')).simpleParser(block, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true }));
    const receivedField = receivedHeader({
      helo: session.hostNameAppearsAs || '',
      reverseName: state?.reverseName,
      ip: session.remoteAddress,
      hostname: config.hostname,
      queueId: id,
      protocol: session.transmissionType || 'SMTP',
      tls: state?.tls,
      recipient: recipients.length === 1 ? recipients[0]?.rcpt : undefined,
      date: new Date(now),
    });
    const body = prependTo(stamped.message, Buffer.from(receivedField + stamped.prepend));
    const message = {
      id,
      receivedAt: now,
      sender,
      body,
      smtputf8: session.envelope.smtpUtf8 === true || /[^\x00-\x7f]/.test(sender + recipients.map((r) => r.address).join('')),
      eightBit: session.envelope.bodyType === '8bitmime' || eightBit,
      origin: submission ? ('submission' as const) : ('smtp' as const),
      clientIp: session.remoteAddress,
      helo: session.hostNameAppearsAs || undefined,
      headerMessageId: headers.messageId,
      subject: headers.subject,
      recipients,
    };
    try {
      await deps.store.enqueue(message);
      deps.storage?.ok();
    } catch (err) {
      // A full disk (RFC 3463 §3.4: 4.3.1): one 'storage' record per episode, not one per message.
      if (deps.storage ? deps.storage.fault('enqueue', err) : isStorageFault(err)) throw reply(452, '4.3.1', 'Insufficient system storage, try again later');
      log.error({ err, queueId: id }, 'could not commit message to the queue');
      throw reply(451, '4.3.0', 'Local error in processing, try again later');
    }
    mailLog(log, 'received', {
      queueId: id,
      from: sender,
      to: recipients.map((r) => r.rcpt),
      size: bodySize(body),
      spooled: isSpooled(body) || undefined,
      messageId: headers.messageId,
      subject: headers.subject,
      clientIp: session.remoteAddress,
      tls: state?.tls ? `${state.tls.version} ${state.tls.cipher}` : null,
      listener: role,
      user,
      dkim,
      auth: verdict?.results,
    });
    return id;
  }
}
