// The remote courier: delivers one message to its remote recipients, grouped by domain; for each
// domain the transport (transport.ts: a smarthost or MX delivery), the TLS policy, the MX walk (or
// the next hop's own addresses), then host after host until every recipient has an answer; AUTH
// to a smarthost once its session is over TLS (RFC 4954); RFC 8689 REQUIRETLS and TLS-Required: No
// (the rules in requiretls.ts).
// The TLS decision of each hop and its record (log + attempts row) are hop.ts's; under a DANE
// level (dane, dane-only) with DNSSEC validation working, the MX walk goes through the
// DNSSEC-aware resolver and each host's TLSA records (dane-lookup.ts) set its policy (hop.ts
// hostPolicy). Never rejects (Courier contract).
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type tls from 'node:tls';
import { isDaneLevel, type OutboundConfig } from '../config/types.ts';
import { parseMailbox } from '../core/address.ts';
import type { Courier, DeliveryJob, Outcome, SmtpReply } from '../core/delivery.ts';
import type { SharedSlots } from '../core/limiter.ts';
import type { Resolver } from '../dns/resolver.ts';
import type { Logger } from '../log/log.ts';
import { choosePolicy, type TlsPolicy, tableLevel } from '../tls-policy/policy.ts';
import type { StsFound } from '../tls-policy/sts.ts';
import { SessionPool } from '../wire/session-pool.ts';
import type { AttemptSink } from './attempts-store.ts';
import { lookupDane, type TlsaResolver } from './dane-lookup.ts';
import {
  type DaneLookup,
  type HopDeps,
  type HopFacts,
  type HopPlace,
  type HostPolicy,
  hopInfo,
  hopRecord,
  hostPolicy,
  openHop,
  policyWithoutDane,
  stsAllowedHosts,
  wantsStarttls,
  writeHop,
} from './hop.ts';
import { Limiter } from './limiter.ts';
import { type MxHost, type MxWalk, walkHost, walkMx } from './mx.ts';
import { classifySend, summarize } from './outcomes.ts';
import { REQUIRETLS_STATUS, requireTlsPolicyRefusal, requireTlsSessionRefusal, withoutRecipientPolicy } from './requiretls.ts';
import { type OpenResult, type SessionOptions, SmtpSession } from './smtp-client.ts';
import { chooseTransport, type Transport, transportLabel } from './transport.ts';

/**
 * Whether DANE can be done (DNSSEC validation works and its AD bit is believed: dns/validation-probe.ts),
 * with the DNSSEC-aware resolver for the MX, address and TLSA lookups of a DANE hop; else why not.
 */
export type DaneState = { on: true; resolver: Resolver & TlsaResolver } | { on: false; why: string };

export interface RemoteCourierDeps {
  /** Our EHLO name (config hostname). */
  hostname: string;
  /** The [outbound] settings in force: an immutable snapshot, swapped as a whole on reload. */
  outbound: () => OutboundConfig;
  resolver: Resolver;
  /** CAs for verification: tls-policy/trust.ts loadTrust(outbound.caFile). */
  trust: tls.SecureContext;
  log: Logger;
  attempts?: AttemptSink;
  /** DANE on or off (awaited once per destination under a DANE level); absent = off. */
  dane?: () => Promise<DaneState>;
  /** The MTA-STS policy in force for a domain (tls-policy/sts.ts), or why it has none usable; absent = MTA-STS off. */
  sts?: (domain: string) => Promise<StsFound>;
  now?: () => number;
  random?: () => number;
  /** Idle time of a pooled connection, ms (default 5 s). */
  idleMs?: number;
  /** Reads a smarthost password file (default: the file, less its final line break). */
  readSecret?: (file: string) => Promise<string>;
  /** Slots of a destination every node counts (queue/pg/slots.ts, [store] kind = "postgres"); absent: this process's limit only. */
  sharedSlots?: SharedSlots;
}

/** The text operators look for in `queue show` and `status` when a smarthost says no to AUTH. */
export const AUTH_REFUSED = 'the smarthost refused our credentials';

/** A smarthost password file: its text, less its final line break (also `sealpost doctor`). */
export async function readSecretFile(file: string): Promise<string> {
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
}

/** The source address to bind for a connection to `ip`: [outbound] source_ipv6 or source_ipv4 by its family. */
export function sourceFor(o: Pick<OutboundConfig, 'sourceIpv4' | 'sourceIpv6'>, ip: string): string | undefined {
  return net.isIPv6(ip) ? o.sourceIpv6 : o.sourceIpv4;
}

interface Group {
  domain: string;
  rcpts: { id: number; address: string }[];
}

export class RemoteCourier implements Courier {
  private readonly deps: RemoteCourierDeps;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly limiter: Limiter;
  private readonly perDestination: number;
  private readonly pool: SessionPool<SmtpSession>;
  private readonly hopDeps: HopDeps;

  constructor(deps: RemoteCourierDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    // Concurrency is a restart-only setting (config/reload.ts): read once.
    const o = deps.outbound();
    this.limiter = new Limiter(o.concurrency, o.concurrencyPerDestination);
    this.perDestination = o.concurrencyPerDestination;
    this.pool = new SessionPool({ idleMs: deps.idleMs ?? 5000, maxMessages: 100, maxIdlePerKey: o.concurrencyPerDestination });
    this.hopDeps = { log: deps.log, attempts: deps.attempts, now: this.now };
  }

  async deliver(job: DeliveryJob): Promise<Map<number, Outcome>> {
    const result = new Map<number, Outcome>();
    const groups = new Map<string, Group>();
    for (const r of job.recipients) {
      const mailbox = parseMailbox(r.address);
      if (!mailbox || mailbox.domain.startsWith('[')) {
        result.set(r.id, { kind: 'permanent', reason: `cannot route "${r.address}": not an address at a domain`, enhanced: '5.1.3' });
        continue;
      }
      const g = groups.get(mailbox.domain) ?? { domain: mailbox.domain, rcpts: [] };
      g.rcpts.push({ id: r.id, address: r.address });
      groups.set(mailbox.domain, g);
    }
    await Promise.all(
      [...groups.values()].map(async (g) => {
        try {
          const byAddress = await this.deliverDomain(job, g);
          for (const r of g.rcpts) result.set(r.id, byAddress.get(r.address) ?? { kind: 'transient', reason: 'no outcome (bug)', enhanced: '4.3.0' });
        } catch (err) {
          this.deps.log.error({ err, queueId: job.queueId, domain: g.domain }, 'remote courier bug');
          for (const r of g.rcpts) result.set(r.id, { kind: 'transient', reason: `internal error: ${(err as Error).message}`, enhanced: '4.3.0' });
        }
      }),
    );
    return result;
  }

  /** QUITs pooled connections (at shutdown). */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async deliverDomain(job: DeliveryJob, group: Group): Promise<Map<string, Outcome>> {
    const release = await this.limiter.acquire(group.domain);
    try {
      let releaseShared: (() => void) | undefined;
      try {
        releaseShared = await this.deps.sharedSlots?.acquire(group.domain, this.perDestination);
      } catch (err) {
        // The slots of other nodes cannot be counted: no session, so the limit holds; try again later.
        const outcome: Outcome = {
          kind: 'transient',
          reason: `cannot count the connections to ${group.domain} of every node: ${(err as Error).message}`,
          enhanced: '4.3.0',
        };
        return new Map(group.rcpts.map((r) => [r.address, outcome]));
      }
      try {
        return await this.walk(job, group);
      } finally {
        releaseShared?.();
      }
    } finally {
      release();
    }
  }

  private async walk(job: DeliveryJob, group: Group): Promise<Map<string, Outcome>> {
    // One snapshot of the [outbound] settings for the whole walk; a reload swaps in another one.
    const o = this.deps.outbound();
    const { domain } = group;
    const outcomes = new Map<string, Outcome>();
    let pending = group.rcpts.map((r) => r.address);
    const finish = (o: Outcome): Map<string, Outcome> => {
      for (const r of pending) outcomes.set(r, o);
      return outcomes;
    };
    const transport = chooseTransport(domain, o.transports ?? {}, o.relay);
    // The table wins over MTA-STS; no need to fetch a policy it would override. MTA-STS names the
    // domain's own MX hosts: it has nothing to say about a transport's next hop.
    let found: Awaited<ReturnType<NonNullable<typeof this.deps.sts>>>;
    try {
      found = this.deps.sts && transport.kind === 'mx' && tableLevel(domain, o.tlsPolicy) === undefined ? await this.deps.sts(domain) : undefined;
    } catch (err) {
      // The policy cache could not be read (on PostgreSQL: the database is away): deferred, never
      // delivered without the domain's policy.
      return finish({ kind: 'transient', reason: `MTA-STS policy cache unavailable: ${(err as Error).message}` });
    }
    const sts = found && 'unusable' in found ? undefined : found;
    const stsProblem = found && 'unusable' in found ? found.unusable : undefined;
    const chosen: TlsPolicy =
      transport.kind === 'relay' && transport.tls !== undefined
        ? { level: transport.tls, source: 'transport' }
        : choosePolicy(domain, o.tlsPolicy, sts, o.tlsDefault);
    // RFC 8689 §5: TLS-Required: No sets the recipient's DANE and MTA-STS aside.
    const noTlsRequired = job.tlsRequired === 'no';
    const dane: DaneState | undefined =
      isDaneLevel(chosen.level) && !noTlsRequired ? ((await this.deps.dane?.()) ?? { on: false, why: 'DANE is not set up' }) : undefined;
    // DANE off: "dane" is decided for the whole destination as without DANE (MTA-STS, else may).
    const withDane = (dane && !dane.on) || noTlsRequired ? policyWithoutDane(chosen) : chosen;
    const policy = noTlsRequired ? withoutRecipientPolicy(withDane) : withDane;
    const started = this.now();
    const label = transportLabel(transport);
    const port = transport.kind === 'relay' ? transport.port : o.port;
    const place = (mx: string, ip = '', host: Partial<Pick<HopPlace, 'policy' | 'dane' | 'daneFacts'>> = {}): HopPlace => ({
      queueId: job.queueId,
      domain,
      rcpts: pending,
      policy,
      mx,
      ip,
      port,
      ...(label ? { transport: label } : {}),
      ...(stsProblem ? { stsProblem } : {}),
      ...host,
    });
    const walk = await this.hosts(domain, transport, o, dane?.on ? dane.resolver : undefined);
    if (walk.kind !== 'hosts') {
      const outcome: Outcome = { kind: walk.kind, reason: walk.reason, enhanced: walk.enhanced };
      writeHop(this.hopDeps, hopRecord(place(''), {}, this.span(started), walk.kind, { error: walk.reason }));
      return finish(outcome);
    }
    const allowed = stsAllowedHosts(domain, walk.hosts, policy);
    if (!allowed.ok) {
      writeHop(this.hopDeps, hopRecord(place(walk.hosts[0]?.name ?? ''), {}, this.span(started), 'transient', { error: allowed.reason }));
      return finish({ kind: 'transient', reason: allowed.reason, enhanced: '4.7.5' });
    }
    let last: Outcome = { kind: 'transient', reason: `no MX host of ${domain} could be tried`, enhanced: '4.4.1' };
    for (const host of allowed.hosts) {
      const forHost: HostPolicy =
        dane && isDaneLevel(policy.level) ? hostPolicy(policy, domain, host.name, await this.daneLookup(dane, host, port)) : { ok: true, policy };
      if (!forHost.ok) {
        // RFC 7672 §2.2: this host cannot be used now; the next one may (its own TLSA).
        const facts = forHost.facts ? { daneFacts: forHost.facts } : {};
        writeHop(this.hopDeps, hopRecord(place(host.name, '', facts), {}, this.span(this.now()), 'transient', { error: forHost.reason }));
        last = { kind: 'transient', reason: forHost.reason, enhanced: '4.7.5' };
        continue;
      }
      const hostPlace = {
        policy: forHost.policy,
        ...(forHost.dane ? { dane: forHost.dane } : {}),
        ...(forHost.facts ? { daneFacts: forHost.facts } : {}),
      };
      for (const ip of host.addresses) {
        const attempt = await this.tryAddress(job, o, transport, place(host.name, ip, hostPlace));
        for (const [rcpt, outcome] of attempt.outcomes) outcomes.set(rcpt, outcome);
        pending = pending.filter((r) => !outcomes.has(r));
        if (pending.length === 0) return outcomes;
        if (!attempt.tryNextHost) return finish(attempt.last ?? last);
        if (attempt.last) last = attempt.last;
      }
    }
    return finish(last);
  }

  /**
   * The hosts to try: the domain's MX hosts, a next hop's MX hosts, or a "[host]" itself. Through
   * the DNSSEC-aware resolver for a DANE hop (RFC 7672 §2.2: the MX and address answers must be secure).
   */
  private hosts(domain: string, transport: Transport, o: OutboundConfig, dnssec: Resolver | undefined): Promise<MxWalk> {
    const options = {
      maxHosts: o.maxMxHosts,
      family: o.addressFamily ?? (o.ipv6 ? 'any' : 'ipv4'),
      prefer: o.prefer ?? 'ipv6',
      ...(dnssec ? { dnssec: true } : {}),
    } as const;
    const resolver = dnssec ?? this.deps.resolver;
    if (transport.kind === 'mx') return walkMx(domain, resolver, this.random, options);
    if (transport.mxLookup) return walkMx(transport.host, resolver, this.random, options);
    return walkHost(transport.host, resolver, options);
  }

  /** What DNS says about DANE for one host: off without DNSSEC validation, else its TLSA lookup. */
  private daneLookup(dane: DaneState, host: MxHost, port: number): Promise<DaneLookup> {
    if (!dane.on) return Promise.resolve({ kind: 'off', why: `DANE off: ${dane.why}` });
    return lookupDane(dane.resolver, host, port);
  }

  /** One host address: a session (pooled or new; its TLS decided by the hop, hop.ts), AUTH when the transport has credentials, one transaction. */
  private async tryAddress(
    job: DeliveryJob,
    o: OutboundConfig,
    transport: Transport,
    place: HopPlace,
  ): Promise<{ outcomes: Map<string, Outcome>; tryNextHost: boolean; last?: Outcome }> {
    const { rcpts, policy } = place;
    const bind = sourceFor(o, place.ip);
    const requireTls = job.tlsRequired === 'requiretls';
    const label = `${place.mx}[${place.ip}]:${place.port}`;
    if (requireTls) {
      // RFC 8689 §4.2.1: no connection at all when this policy cannot authenticate the host.
      const refusal = requireTlsPolicyRefusal(policy, transport.kind === 'relay');
      if (refusal) return this.requireTlsRefused(place, {}, this.span(this.now()), refusal, false);
    }
    const options = (plaintextRetry: boolean): SessionOptions => ({
      ip: place.ip,
      port: place.port,
      mxName: place.mx,
      // RFC 7672 §8.1: SNI is the TLSA base name.
      ...(place.dane ? { servername: place.dane.base } : {}),
      heloName: this.deps.hostname,
      starttls: wantsStarttls(policy.level, plaintextRetry),
      ...(transport.kind === 'relay' && transport.protocol === 'smtps' ? { implicitTls: true } : {}),
      trust: this.deps.trust,
      ...(bind ? { localAddress: bind } : {}),
      connectTimeoutMs: o.connectTimeoutSeconds * 1000,
      commandTimeoutMs: o.commandTimeoutSeconds * 1000,
    });
    const opened = await openHop(this.hopDeps, place, (plaintextRetry) =>
      this.session(this.key(place, plaintextRetry, transport, bind), options(plaintextRetry)),
    );
    if (!opened.ok) {
      const { failure } = opened;
      // No connection, no local address: the record names the one we tried to bind, if any.
      const facts: HopFacts = opened.facts.source || !bind ? opened.facts : { ...opened.facts, source: bind };
      const span = this.span(opened.started);
      const reason = failure.reply ? `host ${label} refused the session: ${failure.reply.code} ${failure.reply.text}` : `${label}: ${failure.reason}`;
      const permanent = failure.reply !== undefined && failure.reply.code >= 500;
      const last: Outcome = {
        kind: permanent ? 'permanent' : 'transient',
        reason,
        enhanced: failure.reply?.enhanced ?? (failure.stage === 'tls' ? '4.7.5' : permanent ? '5.0.0' : '4.4.1'),
        ...(failure.reply ? { reply: failure.reply } : {}),
        hop: hopInfo(place, facts, span.ms),
      };
      writeHop(this.hopDeps, hopRecord(place, facts, span, 'transient', { error: reason, ...(failure.reply ? { reply: failure.reply } : {}) }));
      return { outcomes: new Map(), tryNextHost: true, last };
    }
    const session = opened.session;
    if (requireTls) {
      const refusal = requireTlsSessionRefusal(opened.facts.tls, session.extensions.has('REQUIRETLS'));
      if (refusal) {
        // Nothing of the message was sent; the session serves other messages. Another host may offer REQUIRETLS.
        this.pool.give(this.key(place, opened.plaintextRetry, transport, bind), session);
        return this.requireTlsRefused(place, opened.facts, this.span(opened.started), `${label}: ${refusal}`, true);
      }
    }
    const auth = transport.kind === 'relay' ? transport.auth : undefined;
    if (auth && !session.authenticated) {
      const refused = await this.authenticate(session, auth, label);
      if (refused) {
        await session.quit();
        const span = this.span(opened.started);
        const last: Outcome = {
          kind: 'transient',
          reason: refused.reason,
          // RFC 4954 §6: X.7.8, credentials invalid; ours is a deferral whatever the smarthost's class.
          enhanced: refused.reply ? '4.7.8' : '4.7.0',
          ...(refused.reply ? { reply: refused.reply } : {}),
          hop: hopInfo(place, opened.facts, span.ms),
        };
        // The record's error carries the reply too (`status` shows the error alone); the Outcome's
        // reason does not: the queue adds the reply to it (last error).
        const error = refused.record ?? refused.reason;
        writeHop(this.hopDeps, hopRecord(place, opened.facts, span, 'transient', { error, ...(refused.reply ? { reply: refused.reply } : {}) }));
        // A refusal holds for the account at every address of the smarthost: retry later, do not
        // spend more failures (and the smarthost's lockout budget) on the other addresses now.
        return { outcomes: new Map(), tryNextHost: refused.reply === undefined, last };
      }
    }
    const send = await session.send({
      from: job.sender,
      rcpts,
      body: job.body,
      size: job.size,
      eightBit: job.eightBit,
      smtputf8: job.smtputf8,
      ...(requireTls ? { requireTls } : {}),
    });
    const span = this.span(opened.started);
    const classified = classifySend(send, rcpts, hopInfo(place, opened.facts, span.ms), label);
    this.pool.give(this.key(place, opened.plaintextRetry, transport, bind), session);
    const decided = classified.tryNextHost ? [] : [...classified.outcomes.values()];
    const result = classified.tryNextHost ? 'transient' : summarize(decided.length > 0 ? decided : classified.outcomes.values());
    writeHop(
      this.hopDeps,
      hopRecord(place, opened.facts, span, result, {
        ...(classified.reply ? { reply: classified.reply } : {}),
        ...(classified.error ? { error: classified.error } : {}),
      }),
    );
    if (classified.tryNextHost) {
      const last = classified.outcomes.values().next().value;
      // Recipients refused outright by this host keep that answer; the rest go to the next host.
      const kept = new Map([...classified.outcomes].filter(([, out]) => out.kind === 'permanent'));
      return { outcomes: kept, tryNextHost: true, ...(last ? { last } : {}) };
    }
    return { outcomes: classified.outcomes, tryNextHost: false };
  }

  /** RFC 8689 §4.2.1: a REQUIRETLS message this hop cannot carry bounces with 5.7.30; the hop record says why. */
  private requireTlsRefused(
    place: HopPlace,
    facts: HopFacts,
    span: { at: number; ms: number },
    reason: string,
    tryNextHost: boolean,
  ): { outcomes: Map<string, Outcome>; tryNextHost: boolean; last: Outcome } {
    writeHop(this.hopDeps, hopRecord(place, facts, span, 'permanent', { error: reason }));
    const last: Outcome = { kind: 'permanent', reason, enhanced: REQUIRETLS_STATUS, hop: hopInfo(place, facts, span.ms) };
    return { outcomes: new Map(), tryNextHost, last };
  }

  /**
   * AUTH with the transport's credentials; undefined when it succeeded, else why not. Credentials
   * go only over TLS (the config demands encrypt or verify; this is the last guard). A refusal is
   * a deferral, never a bounce: the credentials, not the message, are wrong.
   */
  private async authenticate(
    session: SmtpSession,
    auth: { username: string; passwordFile: string },
    label: string,
  ): Promise<{ reason: string; record?: string; reply?: SmtpReply } | undefined> {
    if (session.tls.handshake !== 'ok') return { reason: `${label}: no TLS on this connection; credentials are sent only over TLS` };
    let password: string;
    try {
      password = await (this.deps.readSecret ?? readSecretFile)(auth.passwordFile);
    } catch (err) {
      return { reason: `cannot read the smarthost password file ${auth.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
    const result = await session.auth(auth.username, password);
    if (result.ok) return undefined;
    if (result.reply) {
      const r = result.reply;
      const said = `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}`;
      return { reason: `${AUTH_REFUSED} (${label}, user ${auth.username})`, record: `${AUTH_REFUSED} (${label}, user ${auth.username}): ${said}`, reply: r };
    }
    return { reason: `${label}: ${result.error}` };
  }

  private async session(key: string, options: SessionOptions): Promise<{ reused: SmtpSession } | OpenResult> {
    const pooled = await this.pool.take(key);
    if (pooled) return { reused: pooled };
    return SmtpSession.open(options);
  }

  /** Pooled sessions are kept apart by address, TLS level, transport, source address and whether they are the plaintext retry. */
  private key(place: HopPlace, plaintextRetry: boolean, transport: Transport, bind: string | undefined): string {
    const via = transport.kind === 'relay' ? `${transport.via}|${transport.protocol}|${transport.auth?.username ?? ''}` : 'mx';
    const dane = place.dane ? `dane ${place.dane.base} ${place.dane.records.map((r) => `${r.usage}${r.selector}${r.matchingType}${r.data}`).join(',')}` : '';
    return `${place.mx}|${place.ip}|${place.port}|${place.policy.level}|${plaintextRetry ? 'plain' : 'tls'}|${via}|${bind ?? ''}|${dane}`;
  }

  /** When an attempt that started at `started` began, and how long it took until now. */
  private span(started: number): { at: number; ms: number } {
    return { at: started, ms: this.now() - started };
  }
}
