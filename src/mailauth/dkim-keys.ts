// DKIM public keys (RFC 6376 §3.6.1) parsed once per key record, not once per signature. mailauth
// (7.1) looks a key up through a fresh cache per message (tools.js createKeyCache, made in
// DkimVerifier's constructor, shared with the ARC checks of that message) and parses the record
// each time: the tag list, a joi base64 check, createPublicKey from DER and an export to PEM,
// which crypto.verify parses again for every signature. Here each verifier's cache is wrapped:
// the TXT record is asked for (our resolver caches it), and an answer already made from the same
// record text, for the same question (type, strict, minimum bits, hash), is given again, its key
// a KeyObject (crypto.verify takes it without parsing; its toString is the PEM mailauth reports).
// A record not seen yet goes through mailauth's own lookup: the same checks, errors and answer.
//
// Reaches into mailauth's internals (pinned by test/unit/mailauth/dkim-keys.test.ts, which
// fails when they change): lib/dkim/dkim-verifier.js's DkimVerifier, whose constructor assigns
// `this.keyCache` ({ resolver, get(type, name, minBitLength, options) }), caught with a setter on
// its prototype; and the answer's fields ({ publicKey: PEM, rr, ... }).
//
//   installDkimKeyCache({ max? }) → { parsed, reused }   (once per thread; later calls return the same counts)
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import type { DNSResolver } from 'mailauth';

/** What mailauth's key lookup gives (tools.js getPublicKey). */
interface KeyAnswer {
  publicKey: string | KeyObject;
  rr: string;
  warnings?: string[];
}

/** mailauth's per-message key cache (tools.js createKeyCache). */
interface KeyCache {
  resolver: DNSResolver;
  get(type: string, name: string, minBitLength: number | undefined, options?: { strict?: boolean; hashAlgo?: string }): Promise<KeyAnswer>;
}

export interface KeyCounts {
  /** Answers made by mailauth's own lookup (a record not seen yet, or not cacheable). */
  parsed: number;
  /** Answers given again from a record already parsed. */
  reused: number;
}

/** Key records kept at most (the oldest goes first). */
const MAX_RECORDS = 1000;

let installed: KeyCounts | undefined;

/**
 * From now on every DKIM verifier of this thread (dkimVerify, and the ARC checks that share its
 * cache) reuses the keys parsed from a key record it has seen. Idempotent.
 */
export function installDkimKeyCache(options: { max?: number } = {}): KeyCounts {
  if (installed) return installed;
  const counts: KeyCounts = { parsed: 0, reused: 0 };
  const parsedKeys = new ParsedKeys(options.max ?? MAX_RECORDS);
  const verifier = dkimVerifierClass().prototype as object;
  const own = new WeakMap<object, KeyCache>();
  Object.defineProperty(verifier, 'keyCache', {
    configurable: true,
    get(this: object) {
      return own.get(this);
    },
    set(this: object, inner: KeyCache) {
      own.set(this, reusing(inner, parsedKeys, counts));
    },
  });
  installed = counts;
  return counts;
}

/** A per-message cache (as mailauth's) in front of mailauth's own, answering from parsed keys when the record is known. */
function reusing(inner: KeyCache, parsedKeys: ParsedKeys, counts: KeyCounts): KeyCache {
  const asked = new Map<string, Promise<KeyAnswer>>();
  const lookup = async (
    question: string,
    type: string,
    name: string,
    minBitLength: number | undefined,
    options: { strict?: boolean; hashAlgo?: string },
  ): Promise<KeyAnswer> => {
    const rr = /^[\x21-\x7e]+$/.test(name) ? await recordText(inner.resolver, name) : undefined;
    const known = rr === undefined ? undefined : parsedKeys.get(`${question}:${rr}`);
    if (known) {
      counts.reused++;
      return copied(known);
    }
    const answer = await inner.get(type, name, minBitLength, options);
    counts.parsed++;
    if (typeof answer?.publicKey !== 'string' || typeof answer.rr !== 'string') return answer;
    const key = keyObject(answer.publicKey);
    const made = { ...answer, publicKey: key };
    // The record mailauth read (it asked just now): the same text next time gives this answer.
    parsedKeys.set(`${question}:${answer.rr}`, made);
    return copied(made);
  };
  return {
    resolver: inner.resolver,
    get(type, name, minBitLength, options = {}) {
      // The same question of another name is another lookup; of the same record text, the same answer.
      const question = [type, !!options.strict, minBitLength ?? '', options.hashAlgo ?? ''].join(':');
      const id = `${question}:${name}`;
      let answer = asked.get(id);
      if (!answer) {
        answer = lookup(question, type, name, minBitLength, options);
        answer.catch(() => false); // as mailauth's: every caller that awaits it still gets the error
        asked.set(id, answer);
      }
      return answer;
    },
  };
}

/** An answer given out: its warnings a list of its own (mailauth's callers may add to them). */
function copied(answer: KeyAnswer): KeyAnswer {
  return { ...answer, warnings: [...(answer.warnings ?? [])] };
}

/** The key record as mailauth reads it (the first TXT record, its strings joined, white space removed); undefined when there is none. */
async function recordText(resolver: DNSResolver, name: string): Promise<string | undefined> {
  try {
    const list = (await resolver(name, 'TXT')) as unknown as string[][];
    const rr = ([] as string[])
      .concat(list?.[0] ?? [])
      .join('')
      .replace(/\s+/g, '');
    return rr || undefined;
  } catch {
    return undefined; // mailauth's own lookup then says why
  }
}

/** The PEM as a KeyObject that still reads as that PEM (mailauth reports `publicKey.toString()`). */
function keyObject(pem: string): KeyObject {
  const key = createPublicKey(pem);
  Object.defineProperty(key, 'toString', { value: () => pem });
  return key;
}

/** Parsed answers by question and record text, the oldest dropped past `max`. */
class ParsedKeys {
  private readonly entries = new Map<string, KeyAnswer>();
  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  get(key: string): KeyAnswer | undefined {
    return this.entries.get(key);
  }

  set(key: string, answer: KeyAnswer): void {
    this.entries.delete(key);
    this.entries.set(key, answer);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value as string);
  }
}

function dkimVerifierClass(): new (...args: unknown[]) => unknown {
  const fromMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
  const { DkimVerifier } = fromMailauth('./dkim/dkim-verifier.js') as { DkimVerifier?: new (...args: unknown[]) => unknown };
  if (typeof DkimVerifier !== 'function')
    throw new Error("mailauth's lib/dkim/dkim-verifier.js has no DkimVerifier class: src/mailauth/dkim-keys.ts needs updating");
  return DkimVerifier;
}
