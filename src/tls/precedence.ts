// Which certificate wins each name (pure): source precedence operator > acme > self-signed,
// then the later expiry; and the default entry, the best one that covers `hostname`.
//
//   buildIndex(entries, hostname) → { byName, default }   (the NameIndex pickEntry reads)
import { certCovers, type NameIndex, normalizePattern } from './names.ts';

/** Where a certificate came from. Operator files beat ACME, which beats the generated one. */
export type CertSource = 'operator' | 'acme' | 'self-signed';

export const SOURCE_PRECEDENCE: readonly CertSource[] = ['operator', 'acme', 'self-signed'];

/** The fields precedence looks at; CertEntry (store.ts) has them all. */
export interface Rankable {
  readonly source: CertSource;
  /** DNS names from the certificate, as written there. */
  readonly names: readonly string[];
  /** Expiry, epoch ms. */
  readonly notAfter: number;
}

/** Negative when `a` should win over `b`. */
export function compareEntries(a: Rankable, b: Rankable): number {
  const bySource = SOURCE_PRECEDENCE.indexOf(a.source) - SOURCE_PRECEDENCE.indexOf(b.source);
  return bySource !== 0 ? bySource : b.notAfter - a.notAfter;
}

/**
 * Maps every name of every entry to the best entry naming it. The default is the best entry
 * covering `hostname` (a wildcard counts); when none does, the best entry overall, so a client
 * is never handed smtp-server's built-in localhost certificate. Undefined only with no entries.
 */
export function buildIndex<E extends Rankable>(entries: readonly E[], hostname: string): NameIndex<E> {
  const ranked = [...entries].sort(compareEntries);
  const byName = new Map<string, E>();
  for (const entry of ranked) {
    for (const raw of entry.names) {
      const name = normalizePattern(raw);
      if (name !== '' && !byName.has(name)) byName.set(name, entry);
    }
  }
  const covering = ranked.find((entry) => certCovers(entry.names, hostname));
  return { byName, default: covering ?? ranked[0] };
}
