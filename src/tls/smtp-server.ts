// The only file that knows smtp-server's TLS internals: constructor options that serve the
// store's certificates (SNICallback for named contexts, key/cert for the default) and a live
// binding that calls server.updateSecureContext() when the default changes. No I/O of its own.
//
// smtp-server 3.21 builds every TLS socket (STARTTLS and implicit TLS) with
// `secureContext: server.secureContext.get('*')` plus an SNICallback that goes through
// `_resolveSNI` to options.SNICallback, falling back to '*'. So: a client without SNI gets '*',
// which only the public updateSecureContext() rebuilds; a client with SNI gets what we return.
//
//   tlsBinding(store, listener, log, contextOf?, tickets?) → { serverOptions, attach(server) → detach }
//   contextOf picks the SecureContext an SNI match is served with; by default the store's own,
//   built with tls.min_version (service.ts passes contexts built for a listener's own min_version).
//   tickets: the session ticket key (ticket-keys.ts) the '*' context gets, again at each rotation.
//   OpenSSL seals and opens tickets with the keys of the context a connection started on (the
//   listener's '*'), also once SNI has picked another, so the SNI contexts need no key of their own.
import type { SecureContext } from 'node:tls';
import type { SMTPServer, SMTPServerOptions } from 'smtp-server';
import type { Logger } from '../log/log.ts';
import { type ListenerTlsOptions, listenerContextOptions } from './context.ts';
import { pickEntry } from './names.ts';
import type { CertEntry, CertSnapshot, CertStore } from './store.ts';
import { TICKET_LIFETIME_S, type TicketKeys } from './ticket-keys.ts';

/** Same shape as `TlsBinding` in src/inbound/listener.ts. */
export interface SmtpServerTls {
  /** Spread into the SMTPServer options: the current default as key/cert, and SNICallback. */
  serverOptions: Partial<SMTPServerOptions>;
  /** Keeps `server`'s default context equal to the store's default; returns the detach. */
  attach(server: SMTPServer): () => void;
}

/** Throws (a bug in the caller) if the store holds no certificate yet: load one first. */
export function tlsBinding(
  store: CertStore,
  listener: ListenerTlsOptions,
  log: Logger,
  contextOf: (entry: CertEntry) => SecureContext | undefined = (entry) => entry.context,
  tickets?: TicketKeys,
): SmtpServerTls {
  const initial = store.current().default;
  if (!initial) throw new Error('tlsBinding: the certificate store is empty; load the self-signed or operator certificate first');
  const options = listenerContextOptions(listener);

  const SNICallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    // An undefined context makes smtp-server fall back to its '*', which attach() keeps current.
    const entry = pickEntry(servername, store.current());
    cb(null, entry ? contextOf(entry) : undefined);
  };

  const serverOptions: Partial<SMTPServerOptions> = {
    ...options,
    key: initial.material.keyPem,
    cert: initial.material.certPem,
    SNICallback,
    // smtp-server hands its options to tls.createSecureContext: the shared key and how long a ticket resumes.
    ...(tickets ? { ticketKeys: tickets.current(), sessionTimeout: TICKET_LIFETIME_S } : {}),
  };

  function attach(server: SMTPServer): () => void {
    const sync = (snapshot: CertSnapshot): void => {
      const target = snapshot.default;
      if (!target) return;
      // updateSecureContext merges into server.options, so they tell what '*' was built from.
      if (server.options.cert === target.material.certPem && server.options.key === target.material.keyPem) return;
      try {
        server.updateSecureContext({ ...options, key: target.material.keyPem, cert: target.material.certPem });
      } catch (err) {
        // The store built a context from the same PEMs already, so this is not expected.
        log.error({ err, event: 'cert', fingerprint: target.fingerprint }, 'could not update the listener default certificate');
      }
    };
    sync(store.current());
    const unsubscribe = store.subscribe((snapshot) => sync(snapshot));
    // A rotation rebuilds '*' with the new key (kept in server.options for the certificate swaps too).
    const unrotate = tickets?.subscribe((ticketKeys) => {
      try {
        server.updateSecureContext({ ticketKeys });
      } catch (err) {
        log.error({ err, event: 'cert' }, 'could not rotate the session ticket key of a listener');
      }
    });
    return () => {
      unsubscribe();
      unrotate?.();
    };
  }

  return { serverOptions, attach };
}
