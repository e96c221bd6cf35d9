// The ACME manager: keeps a certificate for `hostname` + `acme.names` (+ mta-sts.<domain> for each
// MTA-STS policy we host) issued and renewed.
// At start it loads the cache (lint first: a bad entry is refused and never served), then a
// single timer follows plan(): issue when missing or due, poll ARI, back off after failures.
// Each new certificate is linted, written to the cache, then swapped into the cert store; on
// any failure the old certificate keeps serving and the reason is logged.
// The renewal and back-off state is one immutable value (renewal-state.ts); this file is the I/O
// around its transitions.
// On several nodes ([store] kind = "postgres") `files` writes the cache to PostgreSQL too, only the
// node whose `leader.held()` is true orders and renews (the others look again every LEADER_LOOK_MS),
// and reloadCache() takes in a certificate another node committed.
// Side effects: files under <dataDir>/certs/acme, HTTPS to the CA, one timer, the control watcher.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/types.ts';
import { type FileWriter, localFiles } from '../core/durable-fs.ts';
import { isStorageFault } from '../db/storage-fault.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { policyHosts } from '../mta-sts/policy.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import type { CertStore } from '../tls/store.ts';
import { createAriPoller } from './ari-poller.ts';
import {
  type CachedCert,
  cacheRoot,
  clearStagedKey,
  ensureCacheDir,
  loadAccountKey,
  loadAccountUrl,
  loadEntry,
  loadStagedKey,
  saveAccountKey,
  saveAccountUrl,
  saveEntry,
} from './cache.ts';
import { type ControlWatcher, watchRenewRequests } from './control.ts';
import { admit, inspect } from './current.ts';
import { chooseKey, type KeyChoice, keyTypeOf } from './key-choice.ts';
import { createKey, issueCertificate, type OrderDeps } from './order.ts';
import {
  admitted,
  ariPollAt,
  ariPolled,
  failed,
  forced,
  issued,
  nextStep,
  notDueUntil,
  type RenewalState,
  renewAt,
  replaces,
  resume,
  toStatus,
} from './renewal-state.ts';
import type { ChallengeTable } from './responder.ts';
import { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from './schedule.ts';
import { type CertStatus, readStatus, writeStatus } from './status.ts';
import { type AcmeTransport, configureAcmeTransport } from './transport.ts';

export interface AcmeDeps {
  config: Config;
  /** Where issued certificates go; absent for `sealpost certs renew` run without a daemon. */
  store?: Pick<CertStore, 'set'>;
  /** Shared with the HTTP-01 responder (startChallengeServer). */
  challenges: ChallengeTable;
  /** TLS-ALPN-01 certificates for the HTTPS listener (acme.challenge = "tls-alpn-01"). */
  alpn?: AlpnChallenges;
  log: Logger;
  clock: { now(): number };
  /** [0, 1) draws for jitter; Math.random by default. */
  random?: () => number;
  retry?: RetryPolicy;
  /** acme-client polling of pending authorizations/orders. */
  poll?: OrderDeps['poll'];
  /** 'daemon': schedule by itself and answer `certs renew` requests; 'once': only renewNow(). */
  mode?: 'daemon' | 'once';
  /** Where the cache is written: the local disk by default; with [store] kind = "postgres", shared_files too. */
  files?: FileWriter;
  /** Several nodes: only the one holding this (a PostgreSQL advisory lock) orders and renews. */
  leader?: { held(): Promise<boolean> };
}

export type RenewOutcome =
  | { kind: 'issued'; names: string[]; serial: string; notAfter: string }
  | { kind: 'not-due'; names: string[]; nextRenewalAt: string }
  | { kind: 'failed'; names: string[]; reason: string; nextAttemptAt?: string };

export interface AcmeManager {
  status(): CertStatus;
  /** Renews now if due (or always with `force`); waits for an attempt already running first. */
  renewNow(force: boolean): Promise<RenewOutcome>;
  /** Takes in the cache's current certificate when another node wrote a newer one (src/shared-files/). */
  reloadCache(): Promise<void>;
  stop(): Promise<void>;
}

/** Longest single timer: the plan is re-evaluated at least this often (clock jumps, suspend). */
const MAX_SLEEP_MS = 3_600_000;
/** How often a node that does not hold the renewer lock looks whether it is free (its holder died). */
export const LEADER_LOOK_MS = 30_000;

export async function startAcme(deps: AcmeDeps): Promise<AcmeManager> {
  const { config, log, clock, challenges } = deps;
  const random = deps.random ?? Math.random;
  const policy = deps.retry ?? DEFAULT_RETRY;
  const directory = config.acme.directory;
  const names = certificateNames(config);
  const root = cacheRoot(config.dataDir);
  const files = deps.files ?? localFiles;
  const leader = deps.leader;

  let caPem = '';
  if (config.acme.caFile) {
    try {
      caPem = await readFile(config.acme.caFile, 'utf8');
    } catch (err) {
      throw new Error(`acme.ca_file: cannot read ${config.acme.caFile}: ${(err as Error).message}`);
    }
  }
  await ensureCacheDir(root);
  let accountKeyPem = await loadAccountKey(root);
  if (accountKeyPem === undefined) {
    accountKeyPem = await createKey('ecdsa-p256');
    try {
      // Exclusive: two nodes starting at once must not end up with two accounts.
      await saveAccountKey(root, accountKeyPem, files, true);
      mailLog(log, 'cert', { action: 'account-key-created', file: `${root}/account.key` }, 'ACME account key created');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') accountKeyPem = (await loadAccountKey(root)) ?? accountKeyPem;
      // A full disk must not keep the daemon from starting: this key serves until the next start,
      // which makes (and, with room, stores) another; the CA takes a new account for it.
      else if (!isStorageFault(err)) throw err;
      else
        log.error(
          { event: 'cert', action: 'account-key-not-stored', file: `${root}/account.key`, error: (err as Error).message },
          'the disk is full: the new ACME account key is used from memory only',
        );
    }
  }
  let accountKey = accountKeyPem;
  let accountUrl = await loadAccountUrl(root, directory);

  // Resume the failure count and retry time so a restart does not hammer a failing CA.
  let state: RenewalState = resume((await readStatus(root))?.certificates, names, clock.now());
  const loaded = await loadEntry(root, config.hostname);
  if (loaded.kind === 'unreadable') refuse(loaded.reason);
  if (loaded.kind === 'found') {
    const parsed = inspect(loaded.entry, { names, now: clock.now(), origin: 'cache' });
    const accepted =
      typeof parsed === 'string' ? parsed : admit(loaded.entry, parsed, { names, origin: 'cache', ...(deps.store ? { store: deps.store } : {}) });
    if (typeof accepted === 'string') refuse(accepted);
    else state = admitted(state, accepted);
  }

  const transport: AcmeTransport = configureAcmeTransport(caPem);
  const ari = createAriPoller(directory, transport, log);

  let inFlight: Promise<RenewOutcome> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let control: ControlWatcher | undefined;
  /** What the last look at the renewer lock found (logged once per change). */
  let role: 'renewer' | 'standby' | undefined;

  function refuse(reason: string): void {
    mailLog(log, 'cert', { action: 'refused', source: 'acme', names, error: reason }, 'ACME certificate refused; the previous certificate keeps serving');
  }

  function status(): CertStatus {
    return toStatus(state, { names, now: clock.now(), scheduling: deps.mode !== 'once' });
  }

  async function saveStatus(): Promise<void> {
    try {
      await writeStatus(root, { updatedAt: iso(clock.now()), pid: process.pid, directory, ...(accountUrl ? { accountUrl } : {}), certificates: [status()] });
    } catch (err) {
      log.error({ event: 'cert', action: 'status-write-failed', error: (err as Error).message }, 'cannot write the ACME status file');
    }
  }

  /** The key of the next certificate (key-choice.ts); the staged key is read afresh: `sealpost dane rollover` writes it while we run. */
  async function nextKey(): Promise<KeyChoice> {
    const staged = await loadStagedKey(root, config.hostname).catch(() => undefined);
    const currentPem = state.current?.entry.keyPem;
    return chooseKey({
      keyType: config.acme.keyType,
      reuseKey: config.acme.reuseKey,
      rolloverAfterMs: config.acme.rolloverAfterMs,
      now: clock.now(),
      ...(currentPem ? { current: { keyPem: currentPem, type: keyTypeOf(currentPem) } } : {}),
      ...(staged ? { staged: { keyPem: staged.keyPem, type: keyTypeOf(staged.keyPem), stagedAt: Date.parse(staged.stagedAt) } } : {}),
    });
  }

  /** One issuance attempt; the outcome is logged, saved and returned, never thrown. */
  async function attempt(why: string): Promise<RenewOutcome> {
    if (leader) {
      // The node that held the lock before may have registered the account: its key and URL are ours now.
      accountKey = (await loadAccountKey(root).catch(() => undefined)) ?? accountKey;
      accountUrl = (await loadAccountUrl(root, directory).catch(() => undefined)) ?? accountUrl;
    }
    const replacing = replaces(state);
    const key = await nextKey();
    mailLog(
      log,
      'cert',
      { action: 'ordering', names, why, directory, key: key.kind, keyWhy: key.why, ...(replacing ? { replaces: replacing } : {}) },
      'ordering an ACME certificate',
    );
    const result = await issueCertificate(
      { directoryUrl: directory, accountKeyPem: accountKey, ...(accountUrl ? { accountUrl } : {}), email: config.acme.email },
      {
        names,
        keyType: config.acme.keyType,
        challenge: config.acme.challenge,
        ...(replacing ? { replaces: replacing } : {}),
        ...(key.kind !== 'new' ? { keyPem: key.keyPem } : {}),
      },
      { transport, challenges, log, ...(deps.alpn ? { alpn: deps.alpn } : {}), ...(deps.poll ? { poll: deps.poll } : {}) },
    );
    if (result.accountUrl && result.accountUrl !== accountUrl) {
      accountUrl = result.accountUrl;
      // Only a shortcut (the CA finds the account by its key again): a failed write is logged, not thrown.
      await saveAccountUrl(root, { directory, url: accountUrl }, files).catch((err: unknown) =>
        log.error({ event: 'cert', action: 'account-url-not-stored', error: (err as Error).message }, 'cannot store the ACME account URL'),
      );
    }
    if (stopped) return { kind: 'failed', names, reason: 'stopped during issuance' };
    if (!result.ok) {
      const retryAfterMs = parseRetryAfter(result.problem?.retryAfter, clock.now());
      return fail(result.reason, retryAfterMs);
    }
    const now = clock.now();
    // Parsed and linted once, before the cache write; the same value goes to the store.
    const parsed = inspect(result, { names, now, origin: 'issued' });
    if (typeof parsed === 'string') return fail(parsed);
    const serial = parsed.chain[0]?.serialNumber ?? '';
    let entry: CachedCert;
    try {
      const meta = await saveEntry(
        root,
        config.hostname,
        serial || randomBytes(8).toString('hex'),
        result,
        {
          names,
          issuedAt: iso(now),
          directory,
          orderUrl: result.orderUrl,
          jitter: random(),
        },
        files,
      );
      entry = { meta, keyPem: result.keyPem, certPem: result.certPem };
    } catch (err) {
      return fail(`cannot write the certificate cache in ${root}: ${(err as Error).message}`);
    }
    const accepted = admit(entry, parsed, { names, origin: 'issued', ...(deps.store ? { store: deps.store } : {}) });
    if (typeof accepted === 'string') return fail(accepted);
    const replaced = state.current;
    state = issued(state, accepted, now); // and ask the CA about the new certificate's window
    if (key.kind === 'staged') {
      // The staged key serves now: it is no longer "next" (`dane show` prints only its record).
      await clearStagedKey(root, config.hostname, files).catch((err: unknown) =>
        log.error({ event: 'cert', action: 'staged-key-not-cleared', error: (err as Error).message }, 'cannot remove the staged key file'),
      );
    }
    // The status file first: whoever reads the log record finds `sealpost certs` already saying so.
    await saveStatus();
    mailLog(log, 'cert', {
      action: replaced ? 'renewed' : 'issued',
      source: 'acme',
      names,
      serial: accepted.serial,
      issuer: accepted.issuer,
      notAfter: iso(accepted.notAfter),
      fingerprint: accepted.fingerprint,
      nextRenewalAt: iso(renewAt(state) ?? accepted.notAfter),
      key: key.kind === 'staged' ? 'rolled-over' : key.kind === 'reuse' ? 'kept' : 'new',
      ...(replaced ? { replacedSerial: replaced.serial } : {}),
    });
    return { kind: 'issued', names, serial: accepted.serial, notAfter: iso(accepted.notAfter) };
  }

  async function fail(reason: string, retryAfterMs?: number): Promise<RenewOutcome> {
    const now = clock.now();
    state = failed(state, { reason, now, policy, jitter: random(), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
    const { current, failures } = state;
    const nextAttemptAt = iso(state.nextAttemptAt ?? now);
    await saveStatus();
    mailLog(
      log,
      'cert',
      {
        action: 'failed',
        source: 'acme',
        names,
        error: reason,
        failures,
        nextAttemptAt,
        serving: current ? `acme certificate ${current.serial} (until ${iso(current.notAfter)})` : 'the self-signed certificate',
      },
      'ACME issuance failed; the current certificate keeps serving',
    );
    return { kind: 'failed', names, reason, nextAttemptAt };
  }

  async function pollAri(): Promise<void> {
    const answer = await ari.poll(state.current?.ariId, state.ari, clock.now());
    state = ariPolled(state, answer);
    const { window, explanationUrl } = state.ari;
    if (answer.changed && window)
      mailLog(log, 'cert', {
        action: 'ari-window',
        names,
        windowStart: iso(window.start),
        windowEnd: iso(window.end),
        nextRenewalAt: iso(renewAt(state) ?? window.start),
        ...(explanationUrl ? { explanationUrl } : {}),
      });
    await saveStatus();
  }

  function run(why: string): Promise<RenewOutcome> {
    const job = attempt(why).finally(() => {
      if (inFlight === job) inFlight = undefined;
    });
    inFlight = job;
    return job;
  }

  function schedule(): void {
    if (stopped || deps.mode === 'once') return;
    clearTimeout(timer);
    const now = clock.now();
    const delay = Math.min(MAX_SLEEP_MS, Math.max(0, nextStep(state, now).wakeAt - now));
    timer = setTimeout(() => void tick(), delay);
    timer.unref?.();
  }

  /** True when this node may order (one node, or the renewer lock's holder); a change is logged. */
  async function mayOrder(): Promise<boolean> {
    if (!leader) return true;
    const held = await leader.held();
    if (role !== (held ? 'renewer' : 'standby')) {
      role = held ? 'renewer' : 'standby';
      mailLog(
        log,
        'cert',
        { action: role, names },
        held ? 'this node orders and renews the ACME certificate for every node' : 'another node orders and renews the ACME certificate; this one loads it',
      );
    }
    return held;
  }

  async function tick(): Promise<void> {
    if (stopped) return;
    if (inFlight) {
      await inFlight.catch(() => undefined);
    } else {
      const next = nextStep(state, clock.now());
      if (next.action !== 'wait' && !(await mayOrder())) {
        if (stopped) return;
        clearTimeout(timer);
        timer = setTimeout(() => void tick(), LEADER_LOOK_MS);
        timer.unref?.();
        return;
      }
      try {
        if (next.action === 'issue') await run(state.current ? 'renewal due' : 'no certificate yet');
        else if (next.action === 'poll-ari') await pollAri();
      } catch (err) {
        // attempt() returns outcomes; reaching here is a bug, logged as one, and retried later.
        log.error({ event: 'cert', err }, 'ACME manager bug');
        if (next.action === 'issue') await fail(`internal error: ${(err as Error).message}`);
      }
    }
    schedule();
  }

  if (state.current)
    mailLog(log, 'cert', {
      action: 'cached',
      source: 'acme',
      names,
      serial: state.current.serial,
      notAfter: iso(state.current.notAfter),
      nextRenewalAt: iso(renewAt(state) ?? state.current.notAfter),
    });
  await saveStatus();

  const manager: AcmeManager = {
    status,
    async renewNow(force) {
      while (inFlight) await inFlight.catch(() => undefined);
      if (!(await mayOrder()))
        return { kind: 'failed', names, reason: 'another node holds the ACME renewer lock and renews for every node; run sealpost certs renew there' };
      if (state.current && ariPollAt(state) !== undefined && state.ariOffered !== true) await pollAri(); // learn whether to send `replaces`
      const notDue = force ? undefined : notDueUntil(state, clock.now());
      if (notDue !== undefined) return { kind: 'not-due', names, nextRenewalAt: iso(notDue) };
      if (force) state = forced(state, clock.now());
      clearTimeout(timer);
      const outcome = await run(force ? 'renewal forced by the operator' : 'renewal requested by the operator');
      schedule();
      return outcome;
    },
    async reloadCache() {
      if (inFlight || stopped) return; // our own order is writing it
      const loaded = await loadEntry(root, config.hostname);
      if (loaded.kind !== 'found') return;
      const parsed = inspect(loaded.entry, { names, now: clock.now(), origin: 'cache' });
      if (typeof parsed === 'string') return refuse(parsed);
      if (state.current && parsed.chain[0]?.serialNumber === state.current.serial) return;
      const accepted = admit(loaded.entry, parsed, { names, origin: 'cache', ...(deps.store ? { store: deps.store } : {}) });
      if (typeof accepted === 'string') return refuse(accepted);
      const replaced = state.current;
      state = admitted(state, accepted);
      mailLog(log, 'cert', {
        action: 'loaded',
        source: 'acme',
        names,
        serial: accepted.serial,
        notAfter: iso(accepted.notAfter),
        ...(replaced ? { replacedSerial: replaced.serial } : {}),
      });
      await saveStatus();
      schedule();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      control?.close();
      transport.close();
      if (inFlight) await Promise.race([inFlight.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    },
  };
  if (deps.mode !== 'once') {
    control = await watchRenewRequests(
      root,
      async (request) => {
        const outcome = await manager.renewNow(request.force);
        return { ok: outcome.kind !== 'failed', messages: [describeOutcome(outcome)] };
      },
      () => clock.now(),
    );
  }
  schedule();
  return manager;
}

/**
 * The names of our one ACME certificate: hostname, acme.names, and mta-sts.<domain> for each
 * policy hosted. One certificate rather than one per policy host: one order and one renewal
 * schedule, and SNI picks it for every name; turning a policy on changes the names, so the cached
 * certificate no longer covers them and a new one is ordered.
 */
export function certificateNames(config: Config): string[] {
  const names = [config.hostname, ...config.acme.names];
  for (const host of policyHosts(config)) if (!names.includes(host)) names.push(host);
  return names;
}

/** One line for `sealpost certs renew`. */
export function describeOutcome(outcome: RenewOutcome): string {
  const names = outcome.names.join(', ');
  switch (outcome.kind) {
    case 'issued':
      return `${names}: issued certificate ${outcome.serial}, valid until ${outcome.notAfter}`;
    case 'not-due':
      return `${names}: not due for renewal until ${outcome.nextRenewalAt} (use --force to renew now)`;
    case 'failed':
      return `${names}: renewal failed: ${outcome.reason}${outcome.nextAttemptAt ? ` (next attempt ${outcome.nextAttemptAt})` : ''}`;
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
