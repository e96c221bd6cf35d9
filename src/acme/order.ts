// One ACME conversation (RFC 8555 §7): account, order, HTTP-01 or TLS-ALPN-01 authorizations, finalize,
// download. Returns an outcome value with a reason an operator can act on; never throws for
// server or network failures. Side effects: network via acme-client, writes the challenge table.
import { generateKeyPair } from 'node:crypto';
import * as acme from 'acme-client';
import type { AcmeChallenge, AcmeKeyType } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import type { ChallengeTable } from './responder.ts';
import type { AcmeTransport, ServerProblem } from './transport.ts';

export interface AccountRef {
  directoryUrl: string;
  accountKeyPem: string;
  /** Known account URL (RFC 8555 §7.3), or undefined to register. */
  accountUrl?: string;
  email: string;
}

export interface OrderRequest {
  names: readonly string[];
  keyType: AcmeKeyType;
  /** RFC 9773 §5: the ARI id of the certificate this one replaces. */
  replaces?: string;
  /** The challenge answered for every name; http-01 when absent. */
  challenge?: AcmeChallenge;
  /** The certificate key (PEM) to use (key-choice.ts: the current or the staged one); a new one of keyType when absent. */
  keyPem?: string;
}

export type IssueResult =
  | { ok: true; keyPem: string; certPem: string; accountUrl: string; orderUrl: string }
  | { ok: false; reason: string; accountUrl?: string; problem?: ServerProblem };

export interface OrderDeps {
  transport: AcmeTransport;
  challenges: ChallengeTable;
  /** Where TLS-ALPN-01 challenge certificates go (the HTTPS listener serves them). */
  alpn?: AlpnChallenges;
  log: Logger;
  /** acme-client polling of pending objects; small in tests. */
  poll?: { attempts: number; minMs: number; maxMs: number };
}

const ACCOUNT_GONE = 'urn:ietf:params:acme:error:accountDoesNotExist';
const DEFAULT_POLL = { attempts: 12, minMs: 1000, maxMs: 10_000 };

/** Registers (or finds) the account, orders, validates every name (HTTP-01 or TLS-ALPN-01) and downloads the chain. */
export async function issueCertificate(account: AccountRef, request: OrderRequest, deps: OrderDeps): Promise<IssueResult> {
  deps.transport.reset();
  let accountUrl = account.accountUrl;
  let step = 'contacting the ACME directory';
  try {
    if (accountUrl === undefined) {
      step = 'registering the ACME account';
      accountUrl = await register(account, deps);
    }
    let client = newClient(account, accountUrl, deps);
    step = 'creating the order';
    let order: acme.Order;
    try {
      order = await createOrder(client, request, deps);
    } catch (err) {
      // The server forgot the account (a reset staging or test CA): register again, once.
      if (deps.transport.lastProblem()?.type !== ACCOUNT_GONE) throw err;
      mailLog(
        deps.log,
        'cert',
        { action: 'account-gone', accountUrl, directory: account.directoryUrl },
        'ACME account unknown to the server; registering again',
      );
      step = 'registering the ACME account';
      accountUrl = await register(account, deps);
      client = newClient(account, accountUrl, deps);
      step = 'creating the order';
      order = await createOrder(client, request, deps);
    }
    mailLog(deps.log, 'cert', { action: 'order-created', names: request.names, orderUrl: order.url, replaces: request.replaces }, 'ACME order created');

    for (const authz of await client.getAuthorizations(order)) {
      const name = authz.identifier.value;
      if (authz.status === 'valid') continue;
      step = `validating ${name}`;
      const failure = await validate(client, authz, request.challenge ?? 'http-01', deps);
      if (failure) return { ok: false, reason: failure, accountUrl, ...problemOf(deps) };
    }

    step = 'finalizing the order';
    const keyPem = request.keyPem ?? (await createKey(request.keyType));
    const [, csr] = await acme.crypto.createCsr({ commonName: request.names[0] ?? '', altNames: [...request.names] }, keyPem);
    const finalized = await client.finalizeOrder(order, csr);
    step = 'downloading the certificate';
    const certPem = await client.getCertificate(finalized);
    return { ok: true, keyPem, certPem, accountUrl, orderUrl: order.url };
  } catch (err) {
    return { ok: false, reason: explain(step, err, deps.transport), ...(accountUrl ? { accountUrl } : {}), ...problemOf(deps) };
  }
}

async function register(account: AccountRef, deps: OrderDeps): Promise<string> {
  const client = newClient(account, undefined, deps);
  // RFC 8555 §7.3: agreeing to the CA's terms is part of registering.
  await client.createAccount({ termsOfServiceAgreed: true, ...(account.email ? { contact: [`mailto:${account.email}`] } : {}) });
  const url = client.getAccountUrl();
  mailLog(deps.log, 'cert', { action: 'account-registered', accountUrl: url, directory: account.directoryUrl }, 'ACME account registered');
  return url;
}

function newClient(account: AccountRef, accountUrl: string | undefined, deps: OrderDeps): acme.Client {
  const poll = deps.poll ?? DEFAULT_POLL;
  return new acme.Client({
    directoryUrl: account.directoryUrl,
    accountKey: account.accountKeyPem,
    ...(accountUrl ? { accountUrl } : {}),
    backoffAttempts: poll.attempts,
    backoffMin: poll.minMs,
    backoffMax: poll.maxMs,
  });
}

async function createOrder(client: acme.Client, request: OrderRequest, deps: OrderDeps): Promise<acme.Order> {
  const identifiers = request.names.map((value) => ({ type: 'dns', value }));
  if (request.replaces === undefined) return client.createOrder({ identifiers });
  // RFC 9773 §5: `replaces` names the predecessor. acme-client passes the payload through
  // unchanged (its type lacks the field). A server that refuses it still gets an order without.
  const withReplaces: { identifiers: typeof identifiers; replaces: string } = { identifiers, replaces: request.replaces };
  try {
    return await client.createOrder(withReplaces);
  } catch (err) {
    const problem = deps.transport.lastProblem();
    if (!problem || problem.type === ACCOUNT_GONE || problem.status === 429) throw err;
    mailLog(
      deps.log,
      'cert',
      { action: 'replaces-refused', replaces: request.replaces, error: problem.detail || String(err) },
      'ACME server refused "replaces"; ordering without it',
    );
    deps.transport.reset();
    return client.createOrder({ identifiers });
  }
}

/**
 * Publishes the key authorization (HTTP-01: in the responder's table; TLS-ALPN-01, RFC 8737 §3:
 * as the acmeIdentifier extension of a certificate the HTTPS listener serves for "acme-tls/1"),
 * asks the CA to validate, waits. A reason on failure.
 */
async function validate(client: acme.Client, authz: acme.Authorization, type: AcmeChallenge, deps: OrderDeps): Promise<string | undefined> {
  const name = authz.identifier.value;
  const challenge = authz.challenges.find((c) => c.type === type);
  if (!challenge) return `the CA offered no ${type} challenge for ${name} (offered: ${authz.challenges.map((c) => c.type).join(', ') || 'none'})`;
  const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
  const alpn = deps.alpn;
  if (type === 'tls-alpn-01') {
    if (!alpn) return `tls-alpn-01 challenge for ${name}: only the running daemon's HTTPS listener (listen.https) can answer it; start the daemon, then renew`;
    const [keyPem, certPem] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
    await alpn.set(name, { keyPem: keyPem.toString(), certPem: certPem.toString() });
  } else await deps.challenges.set(challenge.token, keyAuthorization);
  try {
    await client.completeChallenge(challenge);
    await client.waitForValidStatus(authz);
    return undefined;
  } catch (err) {
    // RFC 8555 §7.1.6 / §8: the challenge object carries the CA's reason (what it fetched, what it got).
    const detail = await challengeError(client, authz).catch(() => undefined);
    return `${type} challenge for ${name} failed: ${detail ?? explain('validating', err, deps.transport)}`;
  } finally {
    // A failed delete leaves a stale row only (the token is never used again): not the order's failure.
    await Promise.resolve(type === 'tls-alpn-01' ? alpn?.delete(name) : deps.challenges.delete(challenge.token)).catch(() => undefined);
  }
}

async function challengeError(client: acme.Client, authz: acme.Authorization): Promise<string | undefined> {
  const [fresh] = await client.getAuthorizations({ authorizations: [authz.url] } as acme.Order);
  for (const c of fresh?.challenges ?? []) {
    const error = c.error as { type?: string; detail?: string } | undefined;
    if (error) return `${error.detail ?? 'no detail'}${error.type ? ` (${error.type})` : ''}`;
  }
  return fresh ? `authorization is ${fresh.status}` : undefined;
}

export function createKey(type: AcmeKeyType): Promise<string> {
  const encoding = { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, _publicKey: string, privateKey: string): void => (err ? reject(err) : resolve(privateKey));
    if (type === 'rsa-2048') generateKeyPair('rsa', { modulusLength: 2048, ...encoding }, done);
    else generateKeyPair('ec', { namedCurve: 'P-256', ...encoding }, done);
  });
}

/** A sentence for the log: what we were doing and what the server or the network said. */
function explain(step: string, err: unknown, transport: AcmeTransport): string {
  const problem = transport.lastProblem();
  if (problem) {
    const retry = problem.retryAfter ? `; retry after ${problem.retryAfter}` : '';
    return `${step}: the ACME server answered ${problem.status}${problem.type ? ` ${problem.type}` : ''}: ${problem.detail || String(err)}${retry}`;
  }
  const socket = transport.lastSocketError();
  if (socket) return `${step}: cannot reach the ACME server: ${socket}`;
  return `${step}: ${err instanceof Error ? err.message : String(err)}`;
}

function problemOf(deps: OrderDeps): { problem?: ServerProblem } {
  const problem = deps.transport.lastProblem();
  return problem ? { problem } : {};
}
