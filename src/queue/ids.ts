// Queue ids: 16 characters, time-ordered (ms timestamp) then random, from an alphabet without
// look-alikes, so ids sort by arrival and are safe in file names, headers and shell commands.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjkmnpqrstvwxyz'; // 50 symbols, no vowels

/** Random bytes from a pool filled 4 KiB at a time: one call into OpenSSL per 585 ids, not one per id. */
let pool = Buffer.alloc(0);
let used = 0;
function pooledRandom(n: number): Buffer {
  if (used + n > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export function newQueueId(now: number = Date.now(), random: (n: number) => Buffer = pooledRandom): string {
  let time = '';
  let t = Math.floor(now);
  for (let i = 0; i < 9; i++) {
    time = ALPHABET[t % ALPHABET.length] + time;
    t = Math.floor(t / ALPHABET.length);
  }
  let rest = '';
  for (const byte of random(7)) rest += ALPHABET[byte % ALPHABET.length];
  return time + rest;
}
