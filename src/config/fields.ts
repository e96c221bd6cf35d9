// Field readers for config validation: each reads one key of a parsed TOML table, records a
// problem (key path + what would fix it) instead of throwing, and returns a typed value.
import net from 'node:net';

export interface Problem {
  path: string;
  message: string;
}

/** A TOML table as parsed; values are checked one by one. */
export type Table = Record<string, unknown>;

export class Reader {
  readonly problems: Problem[] = [];
  /** Settings that work but should not be used (e.g. TLS 1.0); they do not make the config invalid. */
  readonly warnings: Problem[] = [];

  problem(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  warning(path: string, message: string): void {
    this.warnings.push({ path, message });
  }

  /** Reports every key of `table` not listed in `known` (typos must not pass silently). */
  unknownKeys(table: Table, prefix: string, known: readonly string[]): void {
    for (const key of Object.keys(table)) {
      if (!known.includes(key)) {
        const hint = closest(key, known);
        this.problem(join(prefix, key), `unknown key${hint ? `; did you mean "${hint}"?` : `; known keys here: ${known.join(', ')}`}`);
      }
    }
  }

  table(parent: Table, key: string, prefix: string): Table {
    const value = parent[key];
    if (value === undefined) return {};
    if (isTable(value)) return value;
    this.problem(join(prefix, key), `must be a table ([${join(prefix, key)}])`);
    return {};
  }

  string(parent: Table, key: string, prefix: string, fallback?: string): string {
    const value = parent[key];
    if (value === undefined) {
      if (fallback === undefined) this.problem(join(prefix, key), 'is required');
      return fallback ?? '';
    }
    if (typeof value !== 'string') {
      this.problem(join(prefix, key), `must be a string, e.g. ${key} = "…"`);
      return fallback ?? '';
    }
    return value;
  }

  oneOf<T extends string>(parent: Table, key: string, prefix: string, allowed: readonly T[], fallback: T): T {
    const value = this.string(parent, key, prefix, fallback);
    if ((allowed as readonly string[]).includes(value)) return value as T;
    this.problem(join(prefix, key), `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}; got "${value}"`);
    return fallback;
  }

  boolean(parent: Table, key: string, prefix: string, fallback: boolean): boolean {
    const value = parent[key];
    if (value === undefined) return fallback;
    if (typeof value === 'boolean') return value;
    this.problem(join(prefix, key), 'must be true or false');
    return fallback;
  }

  integer(parent: Table, key: string, prefix: string, fallback: number, min: number, max: number): number {
    const value = parent[key];
    if (value === undefined) return fallback;
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.problem(join(prefix, key), `must be a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  }

  stringList(parent: Table, key: string, prefix: string, fallback: readonly string[]): string[] {
    const value = parent[key];
    if (value === undefined) return [...fallback];
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
      this.problem(join(prefix, key), `must be a list of strings, e.g. ${key} = ["…"]`);
      return [...fallback];
    }
    return value;
  }

  stringMap(parent: Table, key: string, prefix: string): Record<string, string> {
    const value = parent[key];
    if (value === undefined) return {};
    if (!isTable(value) || !Object.values(value).every((v) => typeof v === 'string')) {
      this.problem(join(prefix, key), `must be a table of strings, e.g. ${key} = { name = "value" }`);
      return {};
    }
    return value as Record<string, string>;
  }
}

export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function join(prefix: string, key: string): string {
  const k = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
  return prefix ? `${prefix}.${k}` : k;
}

/** "host:port" or "[v6]:port" → parts, or a reason it is not one. */
export function parseHostPort(text: string, defaultPort?: number): { host: string; port: number } | string {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+)(?::(\d+))?$/.exec(text);
  if (!m?.[1]) return `"${text}" is not an address; write "IP:PORT" or "[IPv6]:PORT"`;
  const host = m[1];
  if (net.isIP(host) === 0) return `"${host}" is not an IP address`;
  const port = m[2] === undefined ? defaultPort : Number(m[2]);
  if (port === undefined) return `"${text}" needs a port, e.g. "${host.includes(':') ? `[${host}]` : host}:25"`;
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${m[2]} is out of range (1-65535)`;
  return { host, port };
}

/** The known key closest to a typo, if any is close enough to be a likely intent. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}
