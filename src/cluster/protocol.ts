// What the primary and its SMTP session processes ([server] processes) say to each other over the
// node:cluster IPC channel (structured clone: Buffers arrive as Uint8Arrays), and the revival of
// a message's body on the primary's side. Types and pure functions only.
//
//   session process → primary: calls (enqueue, authenticate, admit) answered by id; notes (listening,
//                              session ended, rspamd verdict counted, a session left, a DNSBL problem)
//   primary → session process: answers, reload, ACME certificates, stop
import path from 'node:path';
import type { AuthOutcome, AuthRequest } from '../auth/authenticator.ts';
import type { ListenAddress } from '../config/types.ts';
import type { MessageBody } from '../core/body.ts';
import type { WireError } from '../core/wire-error.ts';
import type { MailEvent } from '../log/log.ts';
import type { NewMessage } from '../queue/message.ts';
import type { ScanDirection } from '../rspamd/verdict.ts';
import type { CertMaterial } from '../tls/material.ts';

/** The listener roles (inbound/session.ts ListenerRole), spelled out: cluster/ is below inbound/ in nothing but this. */
export type Role = 'mx' | 'submission' | 'submissions';

/** A new session as the shared connection table answers it (Postfix's anvil, asked across processes). */
export type Admission = { kind: 'accept' } | { kind: 'refuse'; limit: 'address' | 'network' | 'total' | 'rate' };

export type Call =
  /** Commit this message (its spooled body already fsync'd in data_dir/spool); answered once durable. */
  | { kind: 'enqueue'; message: NewMessage }
  | { kind: 'authenticate'; request: AuthRequest }
  | { kind: 'admit'; role: Role; ip: string }
  /** At start: what every process shares (the secret of the TLS session ticket keys). */
  | { kind: 'hello' };

export type Note =
  | { kind: 'listening'; listening: Record<Role, ListenAddress[]> }
  | { kind: 'failed'; message: string }
  | { kind: 'session-ended'; end: { at: number; listener: string; tls: boolean; greeted: boolean; messages: number; refusedBy?: 'dnsbl' } }
  | { kind: 'rspamd'; direction: ScanDirection; action: string }
  /** A session admitted by `admit` ended. */
  | { kind: 'left'; role: Role; ip: string }
  /** The reload asked for is done (applied, or refused and logged). */
  | { kind: 'reloaded' }
  /** listen.metrics: a mail-log record of this process, for the primary's counts (log/log.ts observeMailEvents). */
  | { kind: 'mail-event'; event: MailEvent; fields: unknown }
  /** A DNSBL zone's answer says the set-up is wrong (inbound/dnsbl-check.ts DnsblProblem): the primary logs it once for all. */
  | { kind: 'dnsbl-problem'; problem: { zone: string; why: 'refused' | 'bad-answer'; answer?: string } }
  /** listen.metrics: a DNS query of this process that did not get records (its kind counted). */
  | { kind: 'dns-answer'; type: string; answer: 'nxdomain' | 'nodata' | 'servfail' | 'timeout' };

export type ToPrimary = { t: 'call'; id: number; call: Call } | { t: 'note'; note: Note };

export type ToWorker =
  | { t: 'answer'; id: number; ok: true; value: unknown }
  | { t: 'answer'; id: number; ok: false; error: WireError }
  /** SIGHUP reached the primary: read the config file and the certificate files again. */
  | { t: 'reload' }
  /** The ACME certificates now in force (the whole set; [] = none). */
  | { t: 'certs'; acme: CertMaterial[] }
  /** The primary's disk: new mail gets 452 4.3.1 until this time (Unix ms; 0: the episode is over). */
  | { t: 'storage'; refusingUntil: number }
  /** Stop accepting; sessions in DATA get graceMs to finish; then exit. */
  | { t: 'stop'; graceMs: number };

export type Answer<C extends Call['kind']> = C extends 'enqueue'
  ? null
  : C extends 'authenticate'
    ? AuthOutcome
    : C extends 'admit'
      ? Admission
      : C extends 'hello'
        ? Hello
        : never;

/** What a session process is given at start. */
export interface Hello {
  /** 32 bytes: the TLS session ticket keys of every process derive from it (tls/ticket-keys.ts). */
  ticketSecret: Uint8Array;
  /** How many session processes there are: each holds its share of limits.connections. */
  processes: number;
}

/** A Buffer, or a Uint8Array that crossed the channel, as a Buffer (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * A body as a session process sent it, as the queue takes it; undefined when a spooled body
 * names a file outside `spoolDir` (only files the session processes wrote there are taken).
 */
export function reviveBody(body: MessageBody | Uint8Array, spoolDir: string): MessageBody | undefined {
  if (body instanceof Uint8Array) return asBuffer(body);
  if (path.dirname(body.file) !== spoolDir || path.basename(body.file).startsWith('.')) return undefined;
  return { ...body, prefix: asBuffer(body.prefix) };
}
