// The end of DATA on an SMTP session: what collect.ts gathered (in memory or spooled) is checked
// for bare newlines and handed to intake with the session's envelope and trace facts; intake's
// outcome becomes the reply. The 250 is sent only after this resolves (intake committed it).
import type { SMTPServerSession } from 'smtp-server';
import type { MessageBody } from '../core/body.ts';
import type { Arrival } from '../intake/intake.ts';
import { BARE_NEWLINE_REASON, checkNewlines, hasEightBit } from '../message/body.ts';
import { receivedHeader } from '../message/received.ts';
import type { Collected } from './collect.ts';
import { mailFrom, reply, sessionUser } from './replies.ts';
import type { InboundDeps, ListenerRole, SessionState } from './session.ts';

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
  /** DATA is complete: check, hand to intake, then (only once committed) answer 250. Returns the queue id. */
  return async function accept(session: SMTPServerSession, data: Collected): Promise<string> {
    // The body fed to the checks as it arrived goes with this message's checks, or is let go here.
    const fed = stateOf(session)?.early?.body;
    try {
      return await settle(session, data);
    } finally {
      fed?.drop();
    }
  };

  async function settle(session: SMTPServerSession, data: Collected): Promise<string> {
    if (data.kind === 'too-big') throw reply(552, '5.3.4', `Message size exceeds fixed limit of ${config.limits.messageSize} bytes`);
    if (data.kind === 'bare') throw refuse(session, reply(550, '5.6.0', BARE_NEWLINE_REASON));
    if (data.kind === 'no-room') {
      log.error({ clientIp: session.remoteAddress, reason: data.reason }, 'a message over the memory budget could not be spooled');
      throw reply(452, '4.3.1', 'Insufficient system storage, try again later');
    }
    if (data.kind === 'memory') {
      const checked = checkNewlines(data.body, config.inbound.bareNewline);
      if (!checked.ok) throw refuse(session, reply(550, '5.6.0', checked.reason));
      return intake(session, checked.body, hasEightBit(checked.body));
    }
    let committed = false;
    try {
      const id = await intake(session, data.body, data.eightBit);
      committed = true;
      return id;
    } finally {
      // Refused or not committed: the spool file goes (a crash here leaves an orphan, swept at start).
      if (!committed) await data.spool.abort();
    }
  }

  async function intake(session: SMTPServerSession, body: MessageBody, eightBit: boolean): Promise<string> {
    const state = stateOf(session);
    const helo = session.hostNameAppearsAs || '';
    const arrival: Arrival = {
      origin: role === 'mx' ? 'smtp' : 'submission',
      listener: role,
      sender: mailFrom(session),
      rcpts: session.envelope.rcptTo.map((r) => r.address),
      relayAllowed: relayAllowed(session),
      user: sessionUser(session),
      body,
      eightBit: session.envelope.bodyType === '8bitmime' || eightBit,
      smtputf8: session.envelope.smtpUtf8 === true,
      // smtp-server takes REQUIRETLS on MAIL FROM only inside TLS (smtp-server-ext.ts answers 530 5.7.10 outside).
      requireTls: session.envelope.requireTLS === true && session.secure,
      client: {
        ip: session.remoteAddress,
        helo,
        tls: state?.tls ? `${state.tls.version} ${state.tls.cipher}` : undefined,
        ...(state?.reverseName ? { reverseName: state.reverseName } : {}),
      },
      trace: (queueId, recipients, now) =>
        receivedHeader({
          helo,
          reverseName: state?.reverseName,
          ip: session.remoteAddress,
          hostname: config.hostname,
          queueId,
          protocol: session.transmissionType || 'SMTP',
          tls: state?.tls,
          recipient: recipients.length === 1 ? recipients[0]?.rcpt : undefined,
          date: new Date(now),
        }),
    };
    if (state?.early) {
      // The transaction ends here: its early checks go with this message, never with the next.
      arrival.early = state.early;
      state.early = undefined;
    }
    const outcome = await deps.intake.accept(arrival);
    if (outcome.ok) return outcome.id;
    const err = reply(outcome.code, outcome.enhanced, outcome.text);
    throw outcome.refusal ? refuse(session, err) : err;
  }
}
