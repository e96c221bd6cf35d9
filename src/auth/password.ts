// Password hashes for submission users: scrypt (node:crypto, RFC 7914) in a PHC-style string that
// carries its own parameters, so they can be raised later without breaking stored hashes.
// CPU and memory work on libuv's thread pool; no other I/O.
//
//   hashPassword(password, params?)  → "$scrypt$ln=15,r=8,p=1$<salt>$<hash>" (base64, no padding)
//   verifyPassword(password, stored) → true only for a well-formed hash that matches (constant time)
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/** N = 2^15, r = 8: about 32 MiB and ~0.1 s per check on a small server (RFC 7914 §2 tuning). */
export const DEFAULT_PARAMS: ScryptParams = { ln: 15, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
/** Refuse hashes whose parameters would make one check exhaust memory or time (a tampered row). */
const MAX_LN = 20;

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, params, HASH_BYTES);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(salt)}$${b64(hash)}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  if (!parsed) return false;
  const actual = await derive(password, parsed.salt, parsed.params, parsed.hash.length);
  return timingSafeEqual(actual, parsed.hash);
}

/** The parts of a stored hash, or undefined when it is not one we wrote. Pure. */
export function parseHash(stored: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | undefined {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(stored);
  if (!m) return undefined;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  if (params.ln < 1 || params.ln > MAX_LN || params.r < 1 || params.p < 1) return undefined;
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const hash = Buffer.from(m[5] ?? '', 'base64');
  if (salt.length < 8 || hash.length < 16) return undefined;
  return { params, salt, hash };
}

/**
 * A well-formed hash that no password matches, with the default parameters: checking an unknown
 * user against it costs as much as checking a real one, so timing does not reveal who exists.
 */
export const UNMATCHABLE_HASH = `$scrypt$ln=${DEFAULT_PARAMS.ln},r=${DEFAULT_PARAMS.r},p=${DEFAULT_PARAMS.p}$${b64(Buffer.alloc(SALT_BYTES, 0x5a))}$${b64(Buffer.alloc(HASH_BYTES))}`;

function derive(password: string, salt: Buffer, params: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** params.ln;
  // Node refuses by default above 32 MiB; allow what these parameters need (128·N·r) plus slack.
  const maxmem = 128 * N * params.r * params.p + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, { N, r: params.r, p: params.p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function b64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/=+$/, '');
}
