// The inbound SMTP listeners: smtp-server wired to the recipient policy, limits, the Received
// header and the queue. Answers 250 only after the message is committed. Logs one record per
// session and one per accepted message. Three roles:
//   mx           port 25, no AUTH; mail from other servers gets SPF/DKIM/DMARC results
//   submission   port 587 (RFC 6409): STARTTLS before AUTH and MAIL, AUTH PLAIN/LOGIN required
//   submissions  port 465 (RFC 8314 §3.3): the same over implicit TLS
// Outgoing mail (authenticated, or from relay.networks) gets fix-ups and a DKIM signature.
import type { TLSSocket } from 'node:tls';
import type { SMTPServer, SMTPServerAddress, SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerDataStream, SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import type { AuthOutcome, AuthRequest } from '../auth/authenticator.ts';
import type { OutgoingInput, Prepared } from '../auth/submission.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import type { Config, ListenAddress } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { Verdict, VerifyInput } from '../mailauth/verify.ts';
import type { Spool } from '../queue/spool.ts';
import type { QueueStore } from '../queue/store.ts';
import { createAcceptor } from './accept.ts';
import { networkMatcher } from '../routing/networks.ts';
import { type Directory, decideRecipient } from '../routing/recipients.ts';
import { checkParameters } from './esmtp-params.ts';
import { Anvil, type AnvilEvent } from './anvil.ts';
import { collectBody } from './collect.ts';
import type { BodyBudget } from './memory-budget.ts';
import type { SessionEnd } from './session-stats.ts';
import { type SealpostServerOptions, SealpostSmtpServer } from './smtp-server-ext.ts';
import { mailFrom, reply, sessionUser } from './replies.ts';

export type ListenerRole = 'mx' | 'submission' | 'submissions';

/** Bodies larger than this go to the spool while they arrive; smaller ones stay in memory. */
export const SPOOL_THRESHOLD = 1024 * 1024;

/** How a listener gets its certificates: constructor options plus a live binding (see src/tls). */
export interface TlsBinding {
  serverOptions: Partial<SMTPServerOptions>;
  /** Keeps the server's default certificate current; returns a function that stops it. */
  attach(server: SMTPServer): () => void;
}

export interface InboundDeps {
  config: Config;
  /** The current domain directory (swapped on reload). */
  directory: () => Directory;
  store: QueueStore;
  /** Where bodies above SPOOL_THRESHOLD (or over the memory budget) are written as they arrive. */
  spool: Spool;
  /** Bytes of bodies held in memory by all listeners together ([limits] memory_mb). */
  budget: BodyBudget;
  tls: TlsBinding;
  log: Logger;
  now: () => number;
  newId: () => string;
  /** PTR name of an address through our resolver, or undefined. Never rejects. */
  reverse: (ip: string) => Promise<string | undefined>;
  /** Bytes free for the queue; refuse new mail (452 4.3.1) below the configured floor. */
  freeBytes: () => Promise<number>;
  /** The disk as the queue sees it: new mail gets 452 4.3.1 while it refuses writes (db/storage-fault.ts). */
  storage?: StorageHealth;
  /** Submission roles: AUTH PLAIN/LOGIN with the brute-force guard (src/auth/authenticator.ts). */
  authenticate?: (request: AuthRequest) => Promise<AuthOutcome>;
  /** Submission roles: may this user use this MAIL FROM (src/auth/senders.ts)? */
  senderAllowed?: (user: string, address: string, directory: Directory) => boolean;
  /** Outgoing mail: From: check, RFC 6409 §8 fix-ups, DKIM (src/auth/submission.ts). Absent: stored as received. */
  prepareOutgoing?: (input: OutgoingInput) => Promise<Prepared>;
  /** mx role, mail from other servers: SPF/DKIM/DMARC (src/mailauth/verify.ts). Absent: off. */
  verifyInbound?: (input: VerifyInput) => Promise<Verdict>;
  /** Told as each session ends: the TLS share statistics (src/inbound/session-stats.ts). */
  sessionEnded?: (end: SessionEnd) => void;
}

export interface SessionState {
  startedAt: number;
  reverseName?: string;
  tls?: { version: string; cipher: string; bits?: number; sni?: string; certificate?: string };
  messages: number;
  rejections: number;
  inData: boolean;
}

type Callback = (err?: Error | null) => void;

export interface Listener {
  readonly servers: readonly SMTPServer[];
  listen(): Promise<ListenAddress[]>;
  /** Stops accepting; sessions in DATA get `graceMs` to finish, idle ones are closed with 421. */
  close(graceMs: number): Promise<void>;
}

export function createInboundListener(deps: InboundDeps, addresses: readonly ListenAddress[], role: ListenerRole = 'mx'): Listener {
  const { config, log } = deps;
  const submission = role !== 'mx';
  if (submission && (!deps.authenticate || !deps.senderAllowed)) throw new Error(`a ${role} listener needs authenticate and senderAllowed`);
  const sessions = new Map<string, SessionState>();
  // Admission per address, per network and in total, stress mode, slow-client timeouts (anvil.ts).
  const anvil = new Anvil({
    limits: { connections: config.limits.connections, perAddress: config.limits.connectionsPerIp, perNetwork: config.limits.connectionsPerNet },
    policy: { commandMs: config.limits.commandTimeoutSeconds * 1000, stressMs: config.limits.stressTimeoutSeconds * 1000, dataMinRate: config.limits.dataMinRate },
    now: deps.now,
    report: (event) => logAnvil(log, role, event),
  });
  let free: { bytes: number; at: number } | undefined;
  /** Set by close(): a session that finishes its message now is told 421 right after the reply. */
  let closing = false;
  const sendOffIfClosing = (session: SMTPServerSession): void => {
    if (!closing) return;
    for (const server of servers) {
      for (const connection of server.connections) {
        if (connection.session.id === session.id) connection.send(421, `4.3.2 ${config.hostname} Service shutting down`);
      }
    }
  };

  /** Counts a refusal for the session record. */
  const refuse = (session: SMTPServerSession, err: Error & { responseCode?: number }): Error => {
    const state = sessions.get(session.id);
    // The limit itself (421 after limits.errors error replies of any kind) is in smtp-server-ext.ts.
    if (state) state.rejections++;
    return err;
  };

  const enoughSpace = async (): Promise<boolean> => {
    const now = deps.now();
    if (!free || now - free.at > 1000) free = { bytes: await deps.freeBytes(), at: now };
    if (deps.storage?.refusing()) return false;
    return free.bytes >= config.inbound.minFreeMegabytes * 1024 * 1024;
  };

  /** Extensions whose MAIL FROM parameters we take (esmtp-params.ts): SMTPUTF8 is advertised (not hidden below), AUTH where it is offered. */
  const offered = { smtputf8: true, auth: submission };

  const options: SealpostServerOptions = {
    ...deps.tls.serverOptions,
    // Submission clients are people and programs we know: no early-talker pause.
    greetPauseMs: submission ? 0 : config.inbound.greetPauseMs,
    maxErrors: config.limits.errors,
    name: config.hostname,
    banner: 'Sealpost', // smtp-server writes "220 NAME ESMTP " before it
    size: config.limits.messageSize,
    ...(submission
      ? {
          // RFC 8314 §3.3: port 465 talks TLS from the first byte.
          secure: role === 'submissions',
          disabledCommands: [],
          authMethods: ['PLAIN', 'LOGIN'],
          authOptional: false,
          allowInsecureAuth: false,
          authRequiredMessage: '5.7.0 Authentication required',
        }
      : { disabledCommands: ['AUTH'], authOptional: true }),
    hideENHANCEDSTATUSCODES: false,
    hideDSN: true,
    disableReverseLookup: true,
    anvil,
    maxClients: config.limits.connections,
    // A backstop only: the session deadlines (smtp-server-ext.ts) close slow clients first.
    socketTimeout: (config.limits.commandTimeoutSeconds + 10) * 1000,
    logger: false,

    onConnect(session, callback: Callback) {
      const ip = session.remoteAddress;
      // The connection limits were checked as the client connected (the anvil, smtp-server-ext.ts).
      const state: SessionState = { startedAt: deps.now(), messages: 0, rejections: 0, inData: false };
      sessions.set(session.id, state);
      // RFC 4954 §4 and RFC 8314: passwords only inside TLS, so AUTH is neither offered nor
      // accepted before STARTTLS (onSecure lifts this).
      if (submission && !session.secure) session.disabledCommands = ['AUTH'];
      if (!config.inbound.reverseDns) return callback();
      void deps.reverse(ip).then((name) => {
        if (name) state.reverseName = name;
        callback();
      });
    },

    onSecure(socket, session, callback: Callback) {
      const state = sessions.get(session.id);
      if (submission) session.disabledCommands = [];
      const tlsSocket = socket as TLSSocket;
      const cipher = tlsSocket.getCipher();
      const served = tlsSocket.getX509Certificate?.();
      if (state) {
        state.tls = {
          version: tlsSocket.getProtocol() ?? cipher.version,
          cipher: cipher.standardName ?? cipher.name,
          bits: tlsSocket.getCipher() ? cipherBits(cipher.name) : undefined,
          sni: tlsSocket.servername || undefined,
          certificate: served?.subjectAltName ?? served?.subject,
        };
      }
      callback();
    },

    onAuth(auth: SMTPServerAuthentication, session, callback: (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void) {
      const authenticate = deps.authenticate;
      if (!authenticate || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN')) return callback(reply(504, '5.5.4', 'Unrecognized authentication type'));
      const request = { method: auth.method, username: auth.username ?? '', password: auth.password ?? '', clientIp: session.remoteAddress, authzid: auth.authzid };
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
      const params = checkParameters('MAIL', address.args, offered);
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
        mailLog(log, 'rejected', { stage: 'rcpt', clientIp: session.remoteAddress, from: mailFrom(session), rcpt: address.address, reply: `${decision.code} ${decision.enhanced}` });
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
        openSpool: () => deps.spool.create(deps.newId()),
        bareNewline: config.inbound.bareNewline,
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
          ? { version: state.tls.version, cipher: state.tls.cipher, sniSent: state.tls.sni !== undefined, sni: state.tls.sni, certificate: state.tls.certificate }
          : null,
        messages: state.messages,
        rejections: state.rejections,
        error: session.error || undefined,
        ms: deps.now() - state.startedAt,
      });
      deps.sessionEnded?.({ at: deps.now(), listener: role, tls: state.tls !== undefined || session.secure, greeted: Boolean(session.hostNameAppearsAs), messages: state.messages });
    },
  };
  // One smtp-server (one net.Server) per address; they share the handlers and the session maps.
  // smtp-server keeps and mutates its options object, so each gets its own copy.
  const servers = addresses.map(() => new SealpostSmtpServer({ ...options }));
  // smtp-server re-emits socket and listen errors; unhandled they would end the process.
  for (const server of servers) {
    server.on('error', (err: Error & { code?: string; remote?: string }) => {
      log.debug({ err: { message: err.message, code: err.code }, clientIp: err.remote }, 'smtp connection error');
    });
  }

  const trusted = networkMatcher(config.relay.networks);
  // Submission: only authenticated users relay (and smtp-server lets no one else get this far).
  const relayAllowed = (session: SMTPServerSession): boolean => Boolean(session.user) || (!submission && trusted(session.remoteAddress));

  const accept = createAcceptor({ deps, role, relayAllowed, refuse, stateOf: (session) => sessions.get(session.id) });

  const unbinds = servers.map((server) => deps.tls.attach(server));

  return {
    servers,
    async listen() {
      const bound: ListenAddress[] = [];
      for (const [i, a] of addresses.entries()) {
        const net = (servers[i] as SealpostSmtpServer).server;
        await new Promise<void>((resolve, reject) => {
          const onError = (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${a.host}:${a.port}: ${err.message}${listenHint(err.code, role === 'mx' ? 'smtp' : role)}`));
          net.once('error', onError);
          // ipv6Only: "[::]:25" next to "0.0.0.0:25" must not claim the IPv4 port as well.
          net.listen({ host: a.host, port: a.port, ipv6Only: a.host.includes(':') }, () => {
            net.off('error', onError);
            resolve();
          });
        });
        const info = net.address();
        bound.push({ host: a.host, port: typeof info === 'object' && info ? info.port : a.port });
      }
      return bound;
    },
    async close(graceMs: number) {
      closing = true;
      for (const unbind of unbinds) unbind();
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.options.closeTimeout = graceMs;
              server.close(() => resolve());
              // Idle sessions are told now; sessions in DATA finish their message first.
              for (const connection of server.connections) {
                if (!sessions.get(connection.session.id)?.inData) {
                  connection.send(421, `4.3.2 ${config.hostname} Service shutting down`);
                }
              }
            }),
        ),
      );
    },
  };
}

const REFUSED = { address: 'too many connections from this address', network: 'too many connections from this network', total: 'too many connections' } as const;

/** One log record per anvil event: refusals, evictions, timeouts, stress mode on and off. */
function logAnvil(log: Logger, listener: ListenerRole, event: AnvilEvent): void {
  switch (event.kind) {
    case 'refused':
      return mailLog(log, 'rejected', { stage: 'connect', listener, clientIp: event.clientIp, reason: REFUSED[event.limit], open: event.open });
    case 'evicted':
      return mailLog(log, 'evicted', { listener, clientIp: event.clientIp, reason: 'connection limit reached, no progress for longest', stuckMs: event.stuckMs, ageMs: event.ageMs, open: event.open });
    case 'timeout': {
      const { kind: _kind, ...fields } = event;
      return mailLog(log, 'timeout', { listener, ...fields });
    }
    case 'stress':
      log.warn({ listener, open: event.open, limit: event.limit }, event.on ? 'stress mode on: shorter timeouts, idle sessions may be closed to make room' : 'stress mode off');
  }
}

function listenHint(code: string | undefined, key: string): string {
  if (code === 'EADDRINUSE') return `; another program (another Sealpost, Postfix, Exim?) has this port: stop it or change [listen] ${key}`;
  if (code === 'EACCES') return '; ports below 1024 need root or CAP_NET_BIND_SERVICE (see systemd/sealpost.service), or use a port above 1024';
  if (code === 'EADDRNOTAVAIL') return `; this machine has no such address: change [listen] ${key}`;
  return '';
}

function cipherBits(name: string): number | undefined {
  if (/AES_256|AES256|CHACHA20/.test(name)) return 256;
  if (/AES_128|AES128/.test(name)) return 128;
  return undefined;
}
