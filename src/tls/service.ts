// The certificate service main.ts starts: a CertStore filled from the operator's files and, when
// those do not cover `hostname`, the kept self-signed certificate; SIGHUP or a change on disk
// re-reads the files; a twice-daily check renews the self-signed one. Side effects: reads cert files, writes
// <data_dir>/certs/self-signed (via self-signed.ts), one unref'd timer, logs.
//
//   startTls(config, log, now) → TlsService { store, tickets, binding(minVersion), reload(), stop() }
//   tickets: the one session ticket key of all listeners (ticket-keys.ts), rotated every 12 h.
//   binding(v) for v other than tls.min_version serves contexts rebuilt from the same entries
//   with v, cached per entry (entries are immutable and reused across swaps, so a WeakMap keeps
//   exactly the live ones).
//   The ACME manager swaps its certificates in with service.store.set('acme', materials).
import { unwatchFile, watchFile } from 'node:fs';
import type { SecureContext } from 'node:tls';
import type { Config, TlsVersion } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { buildSecureContext } from './context.ts';
import { loadCertFiles } from './files.ts';
import { lintChain } from './material.ts';
import { certCovers } from './names.ts';
import { ensureSelfSigned, selfSignedDir } from './self-signed.ts';
import { type SmtpServerTls, tlsBinding } from './smtp-server.ts';
import { type CertEntry, type CertStore, createCertStore } from './store.ts';
import { startTicketKeys, type TicketKeys } from './ticket-keys.ts';

export interface TlsService {
  readonly store: CertStore;
  /** The session ticket key every listener binding uses. */
  readonly tickets: TicketKeys;
  /** Options and live binding for an smtp-server listener whose lowest TLS version is `minVersion`. */
  binding(minVersion: TlsVersion): SmtpServerTls;
  /** Re-reads tls.cert_file/key_file; a bad file is logged and the current certificate kept. */
  reload(): Promise<void>;
  stop(): void;
}

export const SELF_SIGNED_CHECK_MS = 12 * 3_600_000;
export const OPERATOR_POLL_MS = 5_000;

/** Throws only when no certificate at all can be had (the daemon cannot offer STARTTLS). */
export async function startTls(config: Pick<Config, 'hostname' | 'dataDir' | 'tls'>, log: Logger, now: () => number): Promise<TlsService> {
  const { hostname } = config;
  const store = createCertStore({ hostname, listener: { minVersion: config.tls.minVersion }, log });
  const tickets = startTicketKeys({ now });
  const hasOperatorFiles = config.tls.certFile !== '' && config.tls.keyFile !== '';

  /** Loads the operator's files into the store; true when they cover `hostname`. */
  async function loadOperator(): Promise<boolean> {
    const loaded = await loadCertFiles(config.tls.certFile, config.tls.keyFile);
    if (!loaded.ok) {
      log.error({ event: 'cert', action: 'refused', source: 'operator', file: loaded.file, reason: loaded.reason }, 'cert');
      return false;
    }
    for (const problem of lintChain(loaded.material, { names: [hostname], now: now() })) {
      const fields = { event: 'cert', action: 'lint', source: 'operator', severity: problem.level, problem: problem.text };
      if (problem.level === 'error') log.error(fields, 'cert');
      else log.warn(fields, 'cert');
    }
    const swapped = store.set('operator', [loaded.material]);
    return swapped.ok && certCovers(swapped.snapshot.entries.find((e) => e.source === 'operator')?.names ?? [], hostname);
  }

  /** Ensures the kept self-signed certificate is current and in the store. */
  async function refreshSelfSigned(): Promise<string | undefined> {
    const ensured = await ensureSelfSigned({ dir: selfSignedDir(config.dataDir), hostname, now: now(), log });
    if (!ensured.ok) return ensured.reason;
    const swapped = store.set('self-signed', [ensured.material]);
    return swapped.ok ? undefined : swapped.reason;
  }

  const operatorCovers = hasOperatorFiles && (await loadOperator());
  let selfSignedInUse = false;
  if (!operatorCovers) {
    const problem = await refreshSelfSigned();
    if (problem === undefined) selfSignedInUse = true;
    else if (store.current().default === undefined) throw new Error(`no TLS certificate for ${hostname}: ${problem}`);
    else log.error({ event: 'cert', action: 'refused', source: 'self-signed', reason: problem }, 'cert');
  }

  const timer = setInterval(() => {
    if (!selfSignedInUse) return;
    void refreshSelfSigned().then((problem) => {
      if (problem !== undefined) log.error({ event: 'cert', action: 'refused', source: 'self-signed', reason: problem }, 'cert');
    });
  }, SELF_SIGNED_CHECK_MS);
  timer.unref();

  // Operator files are also re-read when they change on disk (a renewal by certbot or the like),
  // checked every OPERATOR_POLL_MS by mtime. A pair caught half-written (new chain, old key) is
  // refused and the old certificate kept; the second file's change triggers the next try.
  const fileChanged = () => void reload();
  if (hasOperatorFiles) {
    for (const file of [config.tls.certFile, config.tls.keyFile]) watchFile(file, { interval: OPERATOR_POLL_MS, persistent: false }, fileChanged);
  }

  async function reload(): Promise<void> {
    if (!hasOperatorFiles) return;
    const covers = await loadOperator();
    if (!covers && !selfSignedInUse) {
      // The operator's new file no longer covers hostname: fall back on the generated one.
      selfSignedInUse = (await refreshSelfSigned()) === undefined;
    }
  }

  const current = store.current().default;
  if (current)
    mailLog(log, 'cert', { action: 'serving', hostname, source: current.source, names: current.names, notAfter: new Date(current.notAfter).toISOString() });

  return {
    store,
    tickets,
    binding(minVersion) {
      if (minVersion === config.tls.minVersion) return tlsBinding(store, { minVersion }, log, undefined, tickets);
      const contexts = new WeakMap<CertEntry, SecureContext>();
      const contextOf = (entry: CertEntry): SecureContext | undefined => {
        let context = contexts.get(entry);
        if (context === undefined) {
          try {
            context = buildSecureContext(entry.material, { minVersion });
          } catch (err) {
            // The store built a context from the same PEMs, so this is not expected; serve the default.
            log.error({ err, event: 'cert', fingerprint: entry.fingerprint, minVersion }, 'could not build a TLS context for this listener');
            return undefined;
          }
          contexts.set(entry, context);
        }
        return context;
      };
      return tlsBinding(store, { minVersion }, log, contextOf, tickets);
    },
    reload,
    stop() {
      clearInterval(timer);
      tickets.stop();
      if (hasOperatorFiles) for (const file of [config.tls.certFile, config.tls.keyFile]) unwatchFile(file, fileChanged);
    },
  };
}
