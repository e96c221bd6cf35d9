// The inbound SMTP listeners: smtp-server servers with our limits (anvil.ts), TLS and the
// session handlers (commands.ts); listen and graceful close. Answers 250 only after intake has
// committed the message (accept.ts). Logs one record per session and one per accepted message,
// and the anvil's refusals, evictions and timeouts. Three roles:
//   mx           port 25, no AUTH; mail from other servers gets SPF/DKIM/DMARC results
//   submission   port 587 (RFC 6409): STARTTLS before AUTH and MAIL, AUTH PLAIN/LOGIN required
//   submissions  port 465 (RFC 8314 §3.3): the same over implicit TLS
// Outgoing mail (authenticated, or from relay.networks) gets fix-ups and a DKIM signature.
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import { senderAllowed } from '../auth/senders.ts';
import type { Config, ListenAddress, TlsVersion } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { networkMatcher } from '../routing/networks.ts';
import { createAcceptor } from './accept.ts';
import { Anvil, type AnvilEvent } from './anvil.ts';
import { sessionHandlers } from './commands.ts';
import type { InboundDeps, ListenerRole, SessionState } from './session.ts';
import { type SealpostServerOptions, SealpostSmtpServer } from './smtp-server-ext.ts';

export interface Listener {
  readonly servers: readonly SMTPServer[];
  listen(): Promise<ListenAddress[]>;
  /** Stops accepting; sessions in DATA get `graceMs` to finish, idle ones are closed with 421. */
  close(graceMs: number): Promise<void>;
}

/**
 * The three listeners of a daemon (25, 587, 465) with their deps: each with the TLS binding of its
 * own minimum version; the two submission ports with the one AUTH check (one guard, so a client
 * cannot double its guesses by switching ports) and the sender rule.
 */
export function listenerRoles(
  config: Config,
  inbound: Omit<InboundDeps, 'tls'>,
  tls: (minVersion: TlsVersion) => InboundDeps['tls'],
  authenticate: NonNullable<InboundDeps['authenticate']>,
): { role: ListenerRole; addresses: readonly ListenAddress[]; deps: InboundDeps }[] {
  const submission = (minVersion: TlsVersion): InboundDeps => ({ ...inbound, tls: tls(minVersion), authenticate, senderAllowed });
  return [
    { role: 'mx', addresses: config.listen.smtp, deps: { ...inbound, tls: tls(config.tls.minVersion) } },
    { role: 'submission', addresses: config.listen.submission, deps: submission(config.submission.minVersion) },
    { role: 'submissions', addresses: config.listen.submissions, deps: submission(config.submissions.minVersion) },
  ];
}

export function createInboundListener(deps: InboundDeps, addresses: readonly ListenAddress[], role: ListenerRole = 'mx'): Listener {
  const { config, log } = deps;
  const submission = role !== 'mx';
  if (submission && (!deps.authenticate || !deps.senderAllowed)) throw new Error(`a ${role} listener needs authenticate and senderAllowed`);
  const sessions = new Map<string, SessionState>();
  const trusted = networkMatcher(config.relay.networks);
  // Admission per address, per network and in total, stress mode, slow-client timeouts (anvil.ts).
  // In a session process the primary counts the total across the processes (shared).
  const shared = deps.sharedAdmission?.(role);
  const anvil = new Anvil({
    perMinute: submission ? 0 : config.limits.connectionsPerMinutePerIp,
    rateExempt: trusted,
    limits: { connections: config.limits.connections, perAddress: config.limits.connectionsPerIp, perNetwork: config.limits.connectionsPerNet },
    policy: {
      commandMs: config.limits.commandTimeoutSeconds * 1000,
      stressMs: config.limits.stressTimeoutSeconds * 1000,
      dataMinRate: config.limits.dataMinRate,
    },
    now: deps.now,
    report: (event) => logAnvil(log, role, event),
    ...(shared ? { shared } : {}),
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

  // Submission: only authenticated users relay (and smtp-server lets no one else get this far).
  const relayAllowed = (session: SMTPServerSession): boolean => Boolean(session.user) || (!submission && trusted(session.remoteAddress));

  const accept = createAcceptor({ deps, role, relayAllowed, refuse, stateOf: (session) => sessions.get(session.id) });

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
    // RFC 8689 §3: smtp-server lists REQUIRETLS in EHLO only once TLS is up (STARTTLS, or 465).
    hideREQUIRETLS: false,
    disableReverseLookup: true,
    anvil,
    // The connection checks (smtp-server-ext.ts, and the DNSBLs in commands.ts): port 25, clients outside relay.networks.
    screened: (ip) => !submission && !trusted(ip),
    ...(deps.dnsbl && !submission ? { onAdmit: (ip: string) => void deps.dnsbl?.(ip).catch(() => undefined) } : {}),
    refusalFor: (id) => sessions.get(id)?.refusal,
    maxClients: config.limits.connections,
    // A backstop only: the session deadlines (smtp-server-ext.ts) close slow clients first.
    socketTimeout: (config.limits.commandTimeoutSeconds + 10) * 1000,
    logger: false,

    ...sessionHandlers({ deps, role, sessions, refuse, enoughSpace, relayAllowed, accept, sendOffIfClosing }),
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

  const unbinds = servers.map((server) => deps.tls.attach(server));

  return {
    servers,
    async listen() {
      const bound: ListenAddress[] = [];
      for (const [i, a] of addresses.entries()) {
        const net = (servers[i] as SealpostSmtpServer).server;
        await new Promise<void>((resolve, reject) => {
          const onError = (err: NodeJS.ErrnoException) =>
            reject(new Error(`cannot listen on ${a.host}:${a.port}: ${err.message}${listenHint(err.code, role === 'mx' ? 'smtp' : role)}`));
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

const REFUSED = {
  address: 'too many connections from this address',
  network: 'too many connections from this network',
  total: 'too many connections',
  rate: 'too many connections from this address in the last minute',
} as const;

const VIOLATED = { 'early-talker': 'early talker: sent before the greeting', pipelining: 'pipelining before EHLO offered it' } as const;

/** One log record per anvil event: refusals, evictions, timeouts, stress mode on and off. */
function logAnvil(log: Logger, listener: ListenerRole, event: AnvilEvent): void {
  switch (event.kind) {
    case 'refused':
      return mailLog(log, 'rejected', { stage: 'connect', listener, clientIp: event.clientIp, reason: REFUSED[event.limit], open: event.open });
    case 'violation':
      return mailLog(log, 'rejected', {
        stage: 'connect',
        listener,
        clientIp: event.clientIp,
        reason: VIOLATED[event.violation],
        ms: event.ms,
        reply: event.violation === 'early-talker' ? '554 5.5.1' : '554 5.5.0',
      });
    case 'evicted':
      return mailLog(log, 'evicted', {
        listener,
        clientIp: event.clientIp,
        reason: 'connection limit reached, no progress for longest',
        stuckMs: event.stuckMs,
        ageMs: event.ageMs,
        open: event.open,
      });
    case 'timeout': {
      const { kind: _kind, ...fields } = event;
      return mailLog(log, 'timeout', { listener, ...fields });
    }
    case 'stress':
      log.warn(
        { listener, open: event.open, limit: event.limit },
        event.on ? 'stress mode on: shorter timeouts, idle sessions may be closed to make room' : 'stress mode off',
      );
  }
}

function listenHint(code: string | undefined, key: string): string {
  if (code === 'EADDRINUSE') return `; another program (another Sealpost, Postfix, Exim?) has this port: stop it or change [listen] ${key}`;
  if (code === 'EACCES') return '; ports below 1024 need root or CAP_NET_BIND_SERVICE (see systemd/sealpost.service), or use a port above 1024';
  if (code === 'EADDRNOTAVAIL') return `; this machine has no such address: change [listen] ${key}`;
  return '';
}
