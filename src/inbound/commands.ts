// The SMTP commands of one inbound session (smtp-server's handlers): connect (reverse DNS),
// STARTTLS facts, AUTH through the guard, MAIL FROM and RCPT TO policy (and intake's early checks
// started at MAIL FROM), DATA collected and handed
// to accept.ts, and the session record at close. The listener (listener.ts) owns the servers and
// the shared session map; these handlers only read and update a session's state.
import type { TLSSocket } from 'node:tls';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerDataStream,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import { mailLog } from '../log/log.ts';
import { decideRecipient } from '../routing/recipients.ts';
import { type Collected, collectBody } from './collect.ts';
import { dnsblReply } from './dnsbl.ts';
import { checkParameters } from './esmtp-params.ts';
import { mailFrom, reply, sessionUser } from './replies.ts';
import { type InboundDeps, type ListenerRole, type SessionState, SPOOL_THRESHOLD, sessionTls } from './session.ts';

type Callback = (err?: Error | null) => void;

export interface HandlerContext {
  deps: InboundDeps;
  role: ListenerRole;
  /** Every open session of the listener, by smtp-server's session id. */
  sessions: Map<string, SessionState>;
  /** Counts a refusal for the session record and returns the error to answer with. */
  refuse: (session: SMTPServerSession, err: Error) => Error;
  /** Room for new mail: the data_dir floor and the disk's health (452 4.3.1 otherwise). */
  enoughSpace: () => Promise<boolean>;
  relayAllowed: (session: SMTPServerSession) => boolean;
  /** The end of DATA: resolves with the queue id once committed (accept.ts). */
  accept: (session: SMTPServerSession, data: Collected) => Promise<string>;
  /** Tells a session 421 right after its reply when the listener is closing. */
  sendOffIfClosing: (session: SMTPServerSession) => void;
}

export type SessionHandlers = Pick<SMTPServerOptions, 'onConnect' | 'onSecure' | 'onAuth' | 'onMailFrom' | 'onRcptTo' | 'onData' | 'onClose'>;

export function sessionHandlers({ deps, role, sessions, refuse, enoughSpace, relayAllowed, accept, sendOffIfClosing }: HandlerContext): SessionHandlers {
  const { config, log } = deps;
  const submission = role !== 'mx';
  /** Extensions whose MAIL FROM parameters we take (esmtp-params.ts): SMTPUTF8 is advertised, AUTH where it is offered. */
  const offered = { smtputf8: true, auth: submission };
  const screen = async (check: NonNullable<InboundDeps['dnsbl']>, ip: string, state: SessionState): Promise<void> => {
    const verdict = await check(ip).catch((err: unknown) => {
      log.error({ err, clientIp: ip }, 'DNSBL check failed; the client is let in');
      return undefined;
    });
    if (verdict?.kind !== 'refuse') return;
    state.refusal = dnsblReply(ip, verdict.zone);
    state.refusedBy = 'dnsbl';
    mailLog(log, 'rejected', {
      stage: 'connect',
      listener: role,
      clientIp: ip,
      reason: 'dnsbl',
      zone: verdict.zone,
      score: verdict.score,
      threshold: config.inbound.dnsbl.threshold,
      listed: verdict.results.flatMap((r) => (r.kind === 'listed' ? [`${r.zone}=${r.answer}`] : [])),
      reply: '554 5.7.1',
    });
  };
  return {
    onConnect(session, callback: Callback) {
      const ip = session.remoteAddress;
      // The connection limits were checked as the client connected (the anvil, smtp-server-ext.ts).
      const state: SessionState = { startedAt: deps.now(), messages: 0, rejections: 0, inData: false };
      sessions.set(session.id, state);
      // RFC 4954 §4 and RFC 8314: passwords only inside TLS, so AUTH is neither offered nor
      // accepted before STARTTLS (onSecure lifts this).
      if (submission && !session.secure) session.disabledCommands = ['AUTH'];
      const reverse = config.inbound.reverseDns
        ? deps.reverse(ip).then((name) => {
            if (name) state.reverseName = name;
          })
        : undefined;
      // Port 25 outside relay.networks: the DNSBLs, in parallel (started already during the greeting pause,
      // listener.ts onAdmit; the resolver's cache joins the lookups). A listed client is greeted, then refused.
      const dnsbl = deps.dnsbl && !submission && !relayAllowed(session) ? screen(deps.dnsbl, ip, state) : undefined;
      void Promise.all([reverse, dnsbl]).then(() => callback());
    },

    onSecure(socket, session, callback: Callback) {
      const state = sessions.get(session.id);
      if (submission) session.disabledCommands = [];
      if (state) state.tls = sessionTls(socket as TLSSocket);
      callback();
    },

    onAuth(auth: SMTPServerAuthentication, session, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) {
      const authenticate = deps.authenticate;
      if (!authenticate || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) return callback(reply(504, '5.5.4', 'Unrecognized authentication type'));
      const request = {
        method: auth.method,
        username: auth.username ?? '',
        password: auth.password ?? '',
        clientIp: session.remoteAddress,
        authzid: auth.authzid,
      };
      authenticate(request).then(
        (outcome) => {
          if (outcome.ok) return callback(null, { user: outcome.user });
          const err = reply(outcome.code, outcome.enhanced, outcome.text);
          callback(outcome.code === 421 ? err : refuse(session, err));
        },
        (err: unknown) => {
          log.error({ err, clientIp: session.remoteAddress }, 'authentication failed with an error');
          callback(reply(454, '4.7.0', 'Temporary authentication failure'));
        },
      );
    },

    onMailFrom(address: SMTPServerAddress, session, callback: Callback) {
      const params = checkParameters('MAIL', address.args, { ...offered, requiretls: session.secure });
      if (params) return callback(refuse(session, reply(params.code, params.enhanced, params.text)));
      void enoughSpace().then((ok) => {
        if (!ok) return callback(reply(452, '4.3.1', 'Insufficient system storage, try again later'));
        if (address.address !== '' && !address.address.includes('@')) {
          return callback(refuse(session, reply(501, '5.1.7', `Bad sender address syntax: <${address.address}>`)));
        }
        if (submission) {
          // RFC 3207 §4: 530 before STARTTLS; RFC 4954 §6: 530 without AUTH.
          if (!session.secure) return callback(refuse(session, reply(530, '5.7.0', 'Must issue a STARTTLS command first')));
          const user = sessionUser(session);
          if (user === undefined) return callback(refuse(session, reply(530, '5.7.0', 'Authentication required')));
          if (!deps.senderAllowed?.(user, address.address, deps.directory())) {
            mailLog(log, 'rejected', { stage: 'mail', listener: role, clientIp: session.remoteAddress, user, from: address.address, reply: '553 5.7.1' });
            return callback(refuse(session, reply(553, '5.7.1', `<${address.address}>: Sender address rejected: not owned by user ${user}`)));
          }
        }
        // The checks that need only the envelope start now, while RCPT and DATA come in (intake decides which).
        const state = sessions.get(session.id);
        if (state) {
          state.early = deps.intake.mailFrom({
            origin: role === 'mx' ? 'smtp' : 'submission',
            sender: address.address,
            relayAllowed: relayAllowed(session),
            user: sessionUser(session),
            client: { ip: session.remoteAddress, helo: session.hostNameAppearsAs || '' },
          });
        }
        callback();
      });
    },

    onRcptTo(address: SMTPServerAddress, session, callback: Callback) {
      const params = checkParameters('RCPT', address.args, offered);
      if (params) return callback(refuse(session, reply(params.code, params.enhanced, params.text)));
      if (session.envelope.rcptTo.length >= config.limits.recipients) {
        return callback(reply(452, '4.5.3', 'Too many recipients'));
      }
      const decision = decideRecipient(address.address, deps.directory(), relayAllowed(session));
      if (decision.kind === 'reject') {
        mailLog(log, 'rejected', {
          stage: 'rcpt',
          clientIp: session.remoteAddress,
          from: mailFrom(session),
          rcpt: address.address,
          reply: `${decision.code} ${decision.enhanced}`,
        });
        return callback(refuse(session, reply(decision.code, decision.enhanced, decision.text)));
      }
      callback();
    },

    onData(stream: SMTPServerDataStream, session, callback: (err?: Error | null, message?: string) => void) {
      const state = sessions.get(session.id);
      if (state) state.inData = true;
      const collection = collectBody(stream, {
        threshold: SPOOL_THRESHOLD,
        budget: deps.budget,
        openSpool: deps.intake.openSpool,
        bareNewline: config.inbound.bareNewline,
        ...(state?.early?.body ? { feed: state.early.body } : {}),
      });
      void collection.done.then((collected) => {
        accept(session, collected).then(
          (queueId) => {
            collection.release();
            if (state) {
              state.inData = false;
              state.messages++;
            }
            callback(null, `2.0.0 Ok: queued as ${queueId}`);
            sendOffIfClosing(session);
          },
          (err: Error) => {
            collection.release();
            if (state) state.inData = false;
            callback(err);
            sendOffIfClosing(session);
          },
        );
      });
    },

    onClose(session) {
      const state = sessions.get(session.id);
      if (!state) return;
      sessions.delete(session.id);
      const ip = session.remoteAddress;
      mailLog(log, 'session', {
        listener: role,
        clientIp: ip,
        user: sessionUser(session),
        reverseName: state.reverseName,
        helo: session.hostNameAppearsAs || undefined,
        tls: state.tls
          ? {
              version: state.tls.version,
              cipher: state.tls.cipher,
              sniSent: state.tls.sni !== undefined,
              sni: state.tls.sni,
              certificate: state.tls.certificate,
            }
          : null,
        messages: state.messages,
        rejections: state.rejections,
        error: session.error || undefined,
        ms: deps.now() - state.startedAt,
      });
      deps.sessionEnded?.({
        at: deps.now(),
        listener: role,
        tls: state.tls !== undefined || session.secure,
        greeted: Boolean(session.hostNameAppearsAs),
        messages: state.messages,
        ...(state.refusedBy ? { refusedBy: state.refusedBy } : {}),
      });
    },
  };
}
