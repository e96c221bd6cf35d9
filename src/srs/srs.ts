// The Sender Rewriting Scheme (pure): SRS0/SRS1 addresses made and reversed as libsrs2, Mail::SRS
// (Guarded) and postsrsd make them (Shevek, "Sender Rewriting Scheme", 2004). No I/O; the clock
// and the secrets are arguments.
//
//   SRS0=HHHH=TT=orig-domain=orig-local@srs-domain         a foreign sender, forwarded once
//   SRS1=HHHH=first-forwarder==HHHH=TT=orig-domain=orig-local@srs-domain   an SRS0 address forwarded again
//
// HHHH: the first 4 base64 characters of HMAC-SHA1(secret, lowercased fields, concatenated); TT:
// days since the epoch mod 1024 in base32 (2 characters, 10 bits).
import { createHmac } from 'node:crypto';

export interface SrsKeys {
  /** The first signs; all are tried when checking (an old secret kept for the addresses still out there). */
  secrets: readonly string[];
  /** The domain of the addresses we make (one of ours: bounces come back to it). */
  domain: string;
}

export type SrsReverse = { kind: 'not-srs' } | { kind: 'valid'; address: string } | { kind: 'invalid'; reason: 'syntax' | 'hash' | 'expired' };

const DAY_MS = 86_400_000;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const TIME_SLOTS = 1024; // 2 base32 characters
const HASH_LENGTH = 4;
/** The separator after the SRS0/SRS1 tag may be = + or - (libsrs2); inside, fields are joined by =. */
const TAG = /^srs([01])[-+=]/i;

/** The SRS address for `sender` (local@domain), or undefined for a sender that cannot be rewritten (<>, no domain). */
export function srsForward(sender: string, keys: SrsKeys, nowMs: number): string | undefined {
  const at = sender.lastIndexOf('@');
  if (at <= 0 || at === sender.length - 1) return undefined;
  const local = sender.slice(0, at);
  const host = sender.slice(at + 1);
  const secret = keys.secrets[0];
  if (secret === undefined) return undefined;
  const tag = TAG.exec(local);
  if (tag?.[1] === '1') {
    // Mail::SRS::Guarded: an SRS1 address keeps its first forwarder and original SRS0 part; only the hash is ours.
    const fields = splitFields(local.slice(tag[0].length), 3);
    if (!fields) return srs0(local, host, secret, keys.domain, nowMs);
    const [, firstHost, firstUser] = fields;
    return `SRS1=${hash(secret, [firstHost, firstUser])}=${firstHost}=${firstUser}@${keys.domain}`;
  }
  if (tag?.[1] === '0') {
    // An SRS0 address of another forwarder: SRS1 with its host and its local part past "SRS0" (the separator kept).
    const srsUser = local.slice(4);
    return `SRS1=${hash(secret, [host, srsUser])}=${host}=${srsUser}@${keys.domain}`;
  }
  return srs0(local, host, secret, keys.domain, nowMs);
}

function srs0(local: string, host: string, secret: string, domain: string, nowMs: number): string {
  const stamp = timestamp(nowMs);
  return `SRS0=${hash(secret, [stamp, host, local])}=${stamp}=${host}=${local}@${domain}`;
}

/**
 * Whether the local part of an address at our SRS domain is a valid SRS address, and where it
 * points: SRS0 → the original sender, SRS1 → the SRS0 address at the first forwarder. The hash is
 * compared case-insensitively (some MTAs fold local parts; libsrs2 and Mail::SRS accept it); an
 * SRS0 timestamp older than `maxAgeDays`, or in the future (it has wrapped), is expired.
 */
export function srsReverse(local: string, keys: SrsKeys, nowMs: number, maxAgeDays: number): SrsReverse {
  const tag = TAG.exec(local);
  if (!tag) return { kind: 'not-srs' };
  const rest = local.slice(tag[0].length);
  if (tag[1] === '0') {
    const fields = splitFields(rest, 4);
    if (!fields) return { kind: 'invalid', reason: 'syntax' };
    const [given, stamp, host, user] = fields;
    if (stamp.length !== 2 || !host || !user || ![...stamp.toUpperCase()].every((c) => BASE32.includes(c))) return { kind: 'invalid', reason: 'syntax' };
    if (!hashMatches(given, [stamp, host, user], keys.secrets)) return { kind: 'invalid', reason: 'hash' };
    if (!timestampFresh(stamp, nowMs, maxAgeDays)) return { kind: 'invalid', reason: 'expired' };
    return { kind: 'valid', address: `${user}@${host}` };
  }
  const fields = splitFields(rest, 3);
  if (!fields) return { kind: 'invalid', reason: 'syntax' };
  const [given, host, user] = fields;
  if (!host || !user) return { kind: 'invalid', reason: 'syntax' };
  if (!hashMatches(given, [host, user], keys.secrets)) return { kind: 'invalid', reason: 'hash' };
  // SRS1 has no timestamp of its own: the SRS0 part is checked by the forwarder that made it.
  return { kind: 'valid', address: `SRS0${user}@${host}` };
}

/** Splits on "=" into exactly `n` fields, the last keeping any further "=". */
function splitFields<N extends 3 | 4>(text: string, n: N): (N extends 3 ? [string, string, string] : [string, string, string, string]) | undefined {
  const fields: string[] = [];
  let rest = text;
  for (let i = 0; i < n - 1; i++) {
    const sep = rest.indexOf('=');
    if (sep < 0) return undefined;
    fields.push(rest.slice(0, sep));
    rest = rest.slice(sep + 1);
  }
  fields.push(rest);
  return fields as N extends 3 ? [string, string, string] : [string, string, string, string];
}

/** HMAC-SHA1 over the lowercased fields, base64, first 4 characters (libsrs2 srs_hash_create). */
export function hash(secret: string, fields: readonly string[]): string {
  const hmac = createHmac('sha1', secret);
  for (const f of fields) hmac.update(f.toLowerCase());
  return hmac.digest('base64').slice(0, HASH_LENGTH);
}

function hashMatches(given: string, fields: readonly string[], secrets: readonly string[]): boolean {
  if (given.length !== HASH_LENGTH) return false;
  return secrets.some((s) => hash(s, fields).toLowerCase() === given.toLowerCase());
}

/** Days since the epoch mod 1024, as 2 base32 characters (libsrs2 srs_timestamp_create). */
export function timestamp(nowMs: number): string {
  const days = Math.floor(nowMs / DAY_MS);
  return `${BASE32[(days >> 5) & 31]}${BASE32[days & 31]}`;
}

/** libsrs2 srs_timestamp_check: a stamp ahead of today is taken as 1024 days back (the 10 bits wrap). */
function timestampFresh(stamp: string, nowMs: number, maxAgeDays: number): boolean {
  const upper = stamp.toUpperCase();
  const then = (BASE32.indexOf(upper[0] ?? '') << 5) | BASE32.indexOf(upper[1] ?? '');
  let today = Math.floor(nowMs / DAY_MS) % TIME_SLOTS;
  while (today < then) today += TIME_SLOTS;
  return today <= then + maxAgeDays;
}
