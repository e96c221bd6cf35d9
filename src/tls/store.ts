// The certificate store: an immutable snapshot (name → entry with its SecureContext, plus the
// default) built from three sources and swapped whole at runtime. Listeners keep running and
// sessions keep their connection; new handshakes see the new snapshot. Logs each swap.
//
//   createCertStore({ hostname, listener, log }) → CertStore
//   store.set(source, materials) → SwapResult   (all-or-nothing; old snapshot kept on failure;
//                                                 material parsed already is not parsed again)
//   store.current()              → CertSnapshot (pickEntry(servername, snapshot) chooses from it)
//   store.subscribe(fn)          → unsubscribe  (fn runs after each successful swap)
import type { SecureContext } from 'node:tls';
import { type Logger, mailLog } from '../log/log.ts';
import { buildSecureContext, type ListenerTlsOptions } from './context.ts';
import { type CertMaterial, type ParsedMaterial, parseMaterial } from './material.ts';
import type { NameIndex } from './names.ts';
import { buildIndex, type CertSource, type Rankable, SOURCE_PRECEDENCE } from './precedence.ts';

export type { CertSource };

/** The leaf's facts (see ParsedMaterial) with where it came from and its built context. */
export interface CertEntry extends Rankable, Pick<ParsedMaterial, 'names' | 'notBefore' | 'notAfter' | 'subject' | 'issuer' | 'fingerprint'> {
  readonly material: CertMaterial;
  /** Built once per entry with the listener options; shared by every handshake. */
  readonly context: SecureContext;
}

export interface CertSnapshot extends NameIndex<CertEntry> {
  /** 0 for the empty store, +1 per swap. */
  readonly generation: number;
  readonly entries: readonly CertEntry[];
}

export type SwapResult = { ok: true; snapshot: CertSnapshot; changed: boolean } | { ok: false; reason: string };

export type SnapshotListener = (snapshot: CertSnapshot, previous: CertSnapshot) => void;

export interface CertStore {
  current(): CertSnapshot;
  /** Replaces every entry of `source` with `materials` ([] removes the source). */
  set(source: CertSource, materials: readonly (CertMaterial | ParsedMaterial)[]): SwapResult;
  subscribe(listener: SnapshotListener): () => void;
}

export interface CertStoreDeps {
  /** config.hostname: the default certificate is the best one covering it. */
  hostname: string;
  listener: ListenerTlsOptions;
  log: Logger;
}

export function createCertStore(deps: CertStoreDeps): CertStore {
  const { hostname, listener, log } = deps;
  let snapshot: CertSnapshot = Object.freeze({ generation: 0, entries: [], byName: new Map(), default: undefined });
  const listeners = new Set<SnapshotListener>();

  /** Parses and builds every entry of one source; the first failure names the culprit. */
  function buildEntries(source: CertSource, materials: readonly (CertMaterial | ParsedMaterial)[]): CertEntry[] | string {
    const entries: CertEntry[] = [];
    for (const [i, item] of materials.entries()) {
      const which = materials.length > 1 ? `${source} certificate ${i + 1}` : `${source} certificate`;
      const result = 'chain' in item ? { ok: true as const, parsed: item } : parseMaterial(item);
      if (!result.ok) return `${which}: ${result.reason}`;
      const { material, names, notBefore, notAfter, subject, issuer, fingerprint } = result.parsed;
      const reused = snapshot.entries.find(
        (e) => e.source === source && e.fingerprint === fingerprint && e.material.keyPem === material.keyPem && e.material.certPem === material.certPem,
      );
      if (reused) {
        entries.push(reused);
        continue;
      }
      let context: SecureContext;
      try {
        context = buildSecureContext(material, listener);
      } catch (err) {
        return `${which}: OpenSSL refused it: ${err instanceof Error ? err.message : String(err)}`;
      }
      entries.push(Object.freeze({ source, names, notBefore, notAfter, subject, issuer, fingerprint, material, context }));
    }
    return entries;
  }

  function set(source: CertSource, materials: readonly (CertMaterial | ParsedMaterial)[]): SwapResult {
    if (!SOURCE_PRECEDENCE.includes(source)) return refuse(source, `unknown certificate source "${String(source)}"`);
    const built = buildEntries(source, materials);
    if (typeof built === 'string') return refuse(source, built);
    const previous = snapshot;
    const kept = previous.entries.filter((e) => e.source !== source);
    const before = previous.entries.filter((e) => e.source === source);
    if (built.length === before.length && built.every((e, i) => e === before[i])) return { ok: true, snapshot: previous, changed: false };
    const entries = [...kept, ...built];
    if (entries.length === 0) return refuse(source, 'no certificate would be left to serve; keeping the current ones');
    const index = buildIndex(entries, hostname);
    const next: CertSnapshot = Object.freeze({ generation: previous.generation + 1, entries: Object.freeze(entries), ...index });
    snapshot = next;

    for (const entry of built) {
      if (!previous.entries.includes(entry)) mailLog(log, 'cert', { action: 'loaded', ...certLogFields(entry) });
    }
    for (const entry of before) {
      if (!built.includes(entry)) mailLog(log, 'cert', { action: 'removed', ...certLogFields(entry) });
    }
    if (next.default !== previous.default && next.default) {
      mailLog(log, 'cert', { action: 'default', hostname, ...certLogFields(next.default) });
    }
    for (const fn of listeners) {
      try {
        fn(next, previous);
      } catch (err) {
        log.error({ err, event: 'cert' }, 'certificate subscriber failed (a bug); other subscribers still ran');
      }
    }
    return { ok: true, snapshot: next, changed: true };
  }

  function refuse(source: CertSource, reason: string): SwapResult {
    log.warn({ event: 'cert', action: 'refused', source, reason }, 'cert');
    return { ok: false, reason };
  }

  return {
    current: () => snapshot,
    set,
    subscribe(fn) {
      listeners.add(fn);
      return () => {
        listeners.delete(fn);
      };
    },
  };
}

/** The fields of a `cert` mail-log record; stable names. */
export function certLogFields(entry: CertEntry): Record<string, unknown> {
  return {
    source: entry.source,
    names: entry.names,
    subject: entry.subject,
    issuer: entry.issuer,
    notAfter: new Date(entry.notAfter).toISOString(),
    fingerprint: entry.fingerprint,
  };
}
