// The status page's password file ([status_http] password_file): lines "user:password" (blank
// lines and "#" comments skipped), readable by the owner only (mode 0600 or stricter: it holds
// passwords in clear, like Postfix's sasl_passwd). HTTP basic auth (RFC 7617) checks against it.
//
//   parsePasswordFile(text)          → the entries, or the first line that is not one (pure)
//   loadPasswordFile(file)           → the entries, or the problem in words (mode, missing, empty)
//   checkBasicAuth(header, entries)  → true when the Authorization header names an entry (constant time)
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';

export interface PasswordEntry {
  user: string;
  password: string;
}

export type Loaded = { ok: true; entries: PasswordEntry[] } | { ok: false; problem: string };

const FORMAT = 'write one "user:password" per line';

export function parsePasswordFile(text: string): Loaded {
  const entries: PasswordEntry[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    // RFC 7617 §2: the user-id cannot contain a colon; the password may.
    if (colon < 1 || colon === line.length - 1) return { ok: false, problem: `line ${i + 1} is not "user:password"; ${FORMAT}` };
    entries.push({ user: line.slice(0, colon), password: line.slice(colon + 1) });
  }
  if (entries.length === 0) return { ok: false, problem: `has no "user:password" line; ${FORMAT}` };
  return { ok: true, entries };
}

export async function loadPasswordFile(file: string): Promise<Loaded> {
  let mode: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) return { ok: false, problem: `${file} is not a file; ${FORMAT}` };
    mode = s.mode & 0o777;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: `cannot read ${file} (${code ?? (err as Error).message}); create it, ${FORMAT}, then chmod 600 ${file}` };
  }
  if ((mode & 0o077) !== 0)
    return {
      ok: false,
      problem: `${file} has mode ${mode.toString(8).padStart(4, '0')}: others may read the passwords; chmod 600 ${file} (and chown it to the sealpost user)`,
    };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, problem: `cannot read ${file} (${code ?? (err as Error).message}); chown it to the sealpost user` };
  }
  const parsed = parsePasswordFile(text);
  return parsed.ok ? parsed : { ok: false, problem: `${file} ${parsed.problem}` };
}

/** RFC 7617 §2: `Basic base64(user ":" password)`, checked against every entry without an early exit. */
export function checkBasicAuth(header: string | undefined, entries: readonly PasswordEntry[]): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const given = digest(Buffer.from(m[1], 'base64').toString('utf8'));
  let ok = false;
  for (const e of entries) if (timingSafeEqual(given, digest(`${e.user}:${e.password}`))) ok = true;
  return ok;
}

/** Equal-length values for timingSafeEqual, whatever the lengths of the secrets. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
