// The remote courier: delivers one message to its remote recipients, grouped by domain; for each
// domain the TLS policy, the MX walk, then host after host until every recipient has an answer.
// One "hop" log record and one attempts row per attempt per host. Never rejects (Courier contract).
import type tls from 'node:tls';
import type { OutboundConfig } from '../config/schema.ts';
import { parseMailbox } from '../core/address.ts';
import type { Courier, DeliveryJob, HopInfo, Outcome } from '../core/delivery.ts';
import type { Resolver } from '../dns/resolver.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { mxAllowed, type StsPolicy } from '../tls-policy/mta-sts.ts';
import { type TlsPolicy, choosePolicy, tableLevel } from '../tls-policy/policy.ts';
import type { AttemptRecord, AttemptSink } from './attempts-store.ts';
import { Limiter } from './limiter.ts';
import { type MxHost, walkMx } from './mx.ts';
import { classifySend, summarize } from './outcomes.ts';
import { SessionPool } from './pool.ts';
import { type OpenResult, type SessionOptions, SmtpSession } from './smtp-client.ts';

export interface RemoteCourierDeps {
  /** Our EHLO name (config hostname). */
  hostname: string;
  outbound: OutboundConfig;
  resolver: Resolver;
  /** CAs for verification: tls-policy/trust.ts loadTrust(outbound.caFile). */
  trust: tls.SecureContext;
  log: Logger;
  attempts?: AttemptSink;
  /** The MTA-STS policy in force for a domain (tls-policy/sts.ts); absent = MTA-STS off. */
  sts?: (domain: string) => Promise<(StsPolicy & { id: string }) | undefined>;
  now?: () => number;
  random?: () => number;
  /** Idle time of a pooled connection, ms (default 5 s). */
  idleMs?: number;
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
  private readonly pool: SessionPool;

  constructor(deps: RemoteCourierDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.limiter = new Limiter(deps.outbound.concurrency, deps.outbound.concurrencyPerDestination);
    this.pool = new SessionPool({ idleMs: deps.idleMs ?? 5000, maxMessages: 100, maxIdlePerKey: deps.outbound.concurrencyPerDestination });
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
      return await this.walk(job, group);
    } finally {
      release();
    }
  }

  private async walk(job: DeliveryJob, group: Group): Promise<Map<string, Outcome>> {
    const o = this.deps.outbound;
    const { domain } = group;
    const outcomes = new Map<string, Outcome>();
    let pending = group.rcpts.map((r) => r.address);
    const finish = (o: Outcome): Map<string, Outcome> => {
      for (const r of pending) outcomes.set(r, o);
      return outcomes;
    };
    // The table wins over MTA-STS; no need to fetch a policy it would override.
    const sts = this.deps.sts && tableLevel(domain, o.tlsPolicy) === undefined ? await this.deps.sts(domain) : undefined;
    const policy = choosePolicy(domain, o.tlsPolicy, sts, o.tlsDefault);
    const started = this.now();
    const walk = await walkMx(domain, this.deps.resolver, this.random, { maxHosts: o.maxMxHosts, ipv6: o.ipv6 });
    if (walk.kind !== 'hosts') {
      const outcome: Outcome = { kind: walk.kind, reason: walk.reason, enhanced: walk.enhanced };
      this.hop(job, domain, pending, policy, { mx: '', ip: '', port: o.port, ms: this.now() - started }, walk.kind, { error: walk.reason });
      return finish(outcome);
    }
    let hosts = walk.hosts;
    if (policy.source === 'mta-sts' && policy.sts) {
      // RFC 8461 §4.1: in enforce mode only MX hosts named by the policy may be used.
      const sts = policy.sts;
      hosts = hosts.filter((h) => mxAllowed(h.name, sts));
      if (hosts.length === 0) {
        const reason = `no MX host of ${domain} (${walk.hosts.map((h) => h.name).join(', ')}) matches its MTA-STS policy (mx: ${sts.mx.join(', ')})`;
        this.hop(job, domain, pending, policy, { mx: walk.hosts[0]?.name ?? '', ip: '', port: o.port, ms: this.now() - started }, 'transient', { error: reason });
        return finish({ kind: 'transient', reason, enhanced: '4.7.5' });
      }
    }
    let last: Outcome = { kind: 'transient', reason: `no MX host of ${domain} could be tried`, enhanced: '4.4.1' };
    for (const host of hosts) {
      for (const ip of host.addresses) {
        const attempt = await this.tryAddress(job, domain, host, ip, pending, policy);
        for (const [rcpt, outcome] of attempt.outcomes) outcomes.set(rcpt, outcome);
        pending = pending.filter((r) => !outcomes.has(r));
        if (pending.length === 0) return outcomes;
        if (!attempt.tryNextHost) return finish(attempt.last ?? last);
        if (attempt.last) last = attempt.last;
      }
    }
    return finish(last);
  }

  /** One host address: a session (pooled or new, with the one plaintext retry under "may"), one transaction. */
  private async tryAddress(
    job: DeliveryJob,
    domain: string,
    host: MxHost,
    ip: string,
    rcpts: string[],
    policy: TlsPolicy,
  ): Promise<{ outcomes: Map<string, Outcome>; tryNextHost: boolean; last?: Outcome }> {
    const o = this.deps.outbound;
    const options: SessionOptions = {
      ip,
      port: o.port,
      mxName: host.name,
      heloName: this.deps.hostname,
      level: policy.level,
      trust: this.deps.trust,
      connectTimeoutMs: o.connectTimeoutSeconds * 1000,
      commandTimeoutMs: o.commandTimeoutSeconds * 1000,
    };
    let started = this.now();
    let opened = await this.session(options);
    if (!opened.ok && opened.retryPlaintext) {
      // "may": one plaintext retry on a new connection after a failed handshake, logged as a downgrade.
      const hop = { mx: host.name, ip, port: o.port, ms: this.now() - started, ...(opened.tls ? { tls: opened.tls } : {}) };
      this.hop(job, domain, rcpts, policy, hop, 'transient', { error: opened.reason });
      started = this.now();
      const downgrade = `${opened.reason}; retried in plaintext`;
      opened = await this.session({ ...options, plaintextRetry: true });
      if (opened.ok) opened.session.downgrade = downgrade;
    }
    const label = `${host.name}[${ip}]:${o.port}`;
    if (!opened.ok) {
      const hop = { mx: host.name, ip, port: o.port, ms: this.now() - started, ...(opened.tls ? { tls: opened.tls } : {}) };
      const reason = opened.reply ? `host ${label} refused the session: ${opened.reply.code} ${opened.reply.text}` : `${label}: ${opened.reason}`;
      const permanent = opened.reply !== undefined && opened.reply.code >= 500;
      const last: Outcome = {
        kind: permanent ? 'permanent' : 'transient',
        reason,
        enhanced: opened.reply?.enhanced ?? (opened.stage === 'tls' ? '4.7.5' : permanent ? '5.0.0' : '4.4.1'),
        ...(opened.reply ? { reply: opened.reply } : {}),
        hop: this.hopInfo(hop, policy),
      };
      this.hop(job, domain, rcpts, policy, hop, 'transient', { error: reason, ...(opened.reply ? { reply: opened.reply } : {}) });
      return { outcomes: new Map(), tryNextHost: true, last };
    }
    const session = opened.session;
    const send = await session.send({ from: job.sender, rcpts, body: job.body, size: job.size, eightBit: job.eightBit, smtputf8: job.smtputf8 });
    const hop: HopInfo = this.hopInfo(
      { mx: host.name, ip, port: o.port, ms: this.now() - started, ...(session.tls ? { tls: session.tls } : {}), ...(session.downgrade ? { downgrade: session.downgrade } : {}) },
      policy,
    );
    const classified = classifySend(send, rcpts, hop, label);
    this.pool.give(this.key(session.options), session);
    const decided = classified.tryNextHost ? [] : [...classified.outcomes.values()];
    const result = classified.tryNextHost ? 'transient' : summarize(decided.length > 0 ? decided : classified.outcomes.values());
    this.hop(job, domain, rcpts, policy, hop, result, {
      ...(classified.reply ? { reply: classified.reply } : {}),
      ...(classified.error ? { error: classified.error } : {}),
    });
    if (classified.tryNextHost) {
      const last = classified.outcomes.values().next().value;
      // Recipients refused outright by this host keep that answer; the rest go to the next host.
      const kept = new Map([...classified.outcomes].filter(([, out]) => out.kind === 'permanent'));
      return { outcomes: kept, tryNextHost: true, ...(last ? { last } : {}) };
    }
    return { outcomes: classified.outcomes, tryNextHost: false };
  }

  private async session(options: SessionOptions): Promise<OpenResult> {
    const pooled = await this.pool.take(this.key(options));
    if (pooled) return { ok: true, session: pooled };
    return SmtpSession.open(options);
  }

  private key(o: SessionOptions): string {
    return `${o.mxName}|${o.ip}|${o.port}|${o.level}|${o.plaintextRetry ? 'plain' : 'tls'}`;
  }

  private hopInfo(hop: Omit<HopInfo, 'policy' | 'policySource'>, policy: TlsPolicy): HopInfo {
    return { ...hop, policy: policy.level, policySource: policy.source };
  }

  /** The "hop" mail-log record and the attempts row: same facts, stable field names. */
  private hop(
    job: DeliveryJob,
    domain: string,
    rcpts: string[],
    policy: TlsPolicy,
    hop: Omit<HopInfo, 'policy' | 'policySource'>,
    result: AttemptRecord['result'],
    extra: { reply?: AttemptRecord['reply']; error?: string },
  ): void {
    const record: AttemptRecord = {
      queueId: job.queueId,
      at: this.now() - hop.ms,
      domain,
      rcpts,
      mx: hop.mx,
      ip: hop.ip,
      port: hop.port,
      policy: policy.level,
      policySource: policy.source,
      ...(hop.tls ? { tls: hop.tls } : {}),
      ...(hop.downgrade ? { downgrade: hop.downgrade } : {}),
      result,
      ...extra,
      ms: hop.ms,
    };
    const stsReport = policy.sts?.mode === 'testing' ? this.stsTestingReport(policy.sts, hop) : undefined;
    mailLog(this.deps.log, 'hop', {
      queueId: job.queueId,
      rcpts,
      domain,
      mx: hop.mx,
      ip: hop.ip,
      port: hop.port,
      policy: policy.level,
      policySource: policy.source,
      tls: hop.tls ?? null,
      downgrade: hop.downgrade ?? null,
      reply: extra.reply ?? null,
      result,
      error: extra.error ?? null,
      ...(stsReport ? { sts: stsReport } : {}),
      ms: hop.ms,
    });
    try {
      this.deps.attempts?.record(record);
    } catch (err) {
      this.deps.log.error({ err, queueId: job.queueId }, 'could not record the attempt');
    }
  }

  /** RFC 8461 §5 testing mode: what enforce would have refused, reported, not acted on. */
  private stsTestingReport(sts: StsPolicy, hop: Omit<HopInfo, 'policy' | 'policySource'>): string | undefined {
    if (hop.mx === '') return undefined;
    if (!mxAllowed(hop.mx, sts)) return `testing: MX ${hop.mx} is not in the MTA-STS policy`;
    if (!hop.tls || hop.tls.version === '') return 'testing: no TLS; enforce would defer';
    if (!hop.tls.verified) return `testing: enforce would defer: ${hop.tls.error ?? 'not verified'}`;
    return undefined;
  }
}
