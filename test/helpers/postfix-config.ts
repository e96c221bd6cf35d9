// main.cf and master.cf for a Postfix test peer (sender or receiver), as text. Pure: paths, ports
// and ids come in; nothing here touches the file system.
//
// Facts about running Postfix as a throwaway peer that are easy to get wrong:
// - Everything instance-specific lives under one directory: config_directory (main.cf, master.cf),
//   queue_directory (whose pid/master.pid is the "is it running" lock), data_directory (its
//   master.lock) and maillog_file. Two instances with different directories and ports run side by
//   side without multi_instance_* (that machinery is for the system's /etc/postfix).
// - `postfix -c DIR`, `sendmail -C DIR`, `postqueue -c DIR` accept a non-default config directory
//   without it being listed in alternate_config_directories only for root (tests run as root).
//   Daemons find it through MAIL_CONFIG, which the default import_environment passes on.
// - maillog_file needs the postlog service in master.cf (postfix-script refuses to start without
//   it, Postfix >= 3.4) and a path under one of maillog_file_prefixes (default /var, /dev/stdout).
// - Every service runs unchrooted (column 5 "n"): a chroot would need copies of /etc files inside
//   the queue directory.
// - virtual(8) delivers with the uid/gid from virtual_*_maps and refuses "$1" substitution from
//   regexp tables, so mailboxes are listed in an inline: table (no postmap, no .db files).
// - Postfix calls a mail that comes back to its own name a loop: each instance needs its own
//   myhostname, different from whatever it talks to.

export interface PostfixPaths {
  /** The instance's own directory; everything below is inside it. */
  dir: string;
  configDir: string;
  queueDir: string;
  dataDir: string;
  /** virtual_mailbox_base of a receiver. */
  mailDir: string;
  maillog: string;
}

export function postfixPaths(dir: string): PostfixPaths {
  return {
    dir,
    configDir: `${dir}/etc`,
    queueDir: `${dir}/spool`,
    dataDir: `${dir}/data`,
    mailDir: `${dir}/mail`,
    maillog: `${dir}/maillog`,
  };
}

export interface HostPort {
  host: string;
  port: number;
}

export type MainCf = Record<string, string>;

/** Settings every test instance shares: its own paths and name, no DNS, fast retries, no local delivery. */
export function baseMainCf(paths: PostfixPaths, name: string, hostname: string, listenHost?: string): MainCf {
  return {
    compatibility_level: '3.6',
    queue_directory: paths.queueDir,
    data_directory: paths.dataDir,
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    syslog_name: `postfix-${name}`,
    maillog_file: paths.maillog,
    maillog_file_prefixes: paths.dir,
    myhostname: hostname,
    mydomain: hostname.includes('.') ? hostname.slice(hostname.indexOf('.') + 1) : hostname,
    myorigin: '$myhostname',
    mydestination: '',
    // loopback-only: 127.0.0.1 and ::1. A receiver on another loopback address (127.0.0.2:25 as a
    // second MX) names it instead, so its smtp client and loop checks agree with its listener.
    inet_interfaces: listenHost ?? 'loopback-only',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    alias_maps: '',
    alias_database: '',
    local_recipient_maps: '',
    local_transport: 'error:5.1.1 this test peer has no local delivery',
    biff: 'no',
    smtpd_peername_lookup: 'no',
    // No MX or A lookups: inside netless the resolver is 127.0.0.1, where usually nothing answers.
    // Next hops are IP literals ([127.0.0.1]:PORT) in relayhost or transport_maps.
    smtp_dns_support_level: 'disabled',
    smtp_connect_timeout: '5s',
    // Retry deferred mail within seconds, not minutes (tests restart the peer they talk to).
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '5s',
    delay_warning_time: '0h',
    smtp_tls_loglevel: '1',
    smtpd_tls_loglevel: '1',
  };
}

export type SenderTlsLevel = 'none' | 'may' | 'encrypt' | 'verify' | 'secure';

export interface SenderTls {
  level: SenderTlsLevel;
  /** PEM file of trusted CAs (smtp_tls_CAfile) for verify/secure. */
  caFile?: string;
  /** SNI name to send (smtp_tls_servername); Postfix sends none by default. */
  servername?: string;
  /** smtp_tls_verify_cert_match / smtp_tls_secure_cert_match, e.g. ['mx.example.test']. */
  match?: string[];
}

/** A sender relays everything to `relayTo`, except domains routed elsewhere by `routes`. */
export function senderMainCf(relayTo: HostPort, routes: Readonly<Record<string, HostPort>>, tls: SenderTls): MainCf {
  const cf: MainCf = { relayhost: `[${relayTo.host}]:${relayTo.port}` };
  const entries = Object.entries(routes);
  if (entries.length > 0) {
    cf['transport_maps'] = inlineTable(entries.map(([domain, hop]) => [domain, `smtp:[${hop.host}]:${hop.port}`]));
  }
  cf['smtp_tls_security_level'] = tls.level;
  if (tls.caFile) cf['smtp_tls_CAfile'] = tls.caFile;
  if (tls.servername) cf['smtp_tls_servername'] = tls.servername;
  if (tls.match) {
    cf['smtp_tls_verify_cert_match'] = tls.match.join(', ');
    cf['smtp_tls_secure_cert_match'] = tls.match.join(', ');
  }
  return cf;
}

export interface ReceiverTls {
  /** smtpd_tls_security_level: may offers STARTTLS, encrypt requires it. */
  level: 'may' | 'encrypt';
  certFile: string;
  keyFile: string;
}

export interface Ids {
  uid: number;
  gid: number;
}

/**
 * A receiver accepts mail for `domains` and delivers it with virtual(8) into Maildirs under
 * mailDir: `<domain>/<local>/` for each address in `mailboxes` (others get 550 at RCPT), or one
 * catch-all `<domain>/_all/` per domain when `mailboxes` is empty. It relays nothing.
 */
export function receiverMainCf(paths: PostfixPaths, domains: readonly string[], mailboxes: readonly string[], owner: Ids, tls?: ReceiverTls): MainCf {
  const table: [string, string][] =
    mailboxes.length > 0
      ? mailboxes.map((address) => {
          const at = address.lastIndexOf('@');
          return [address, `${address.slice(at + 1)}/${address.slice(0, at)}/`];
        })
      : domains.map((domain) => [`@${domain}`, `${domain}/_all/`]);
  const cf: MainCf = {
    virtual_mailbox_domains: domains.join(', '),
    virtual_mailbox_base: paths.mailDir,
    virtual_mailbox_maps: inlineTable(table),
    virtual_uid_maps: `static:${owner.uid}`,
    virtual_gid_maps: `static:${owner.gid}`,
    // The default (100) would refuse a system user's uid such as postfix's.
    virtual_minimum_uid: '1',
    // 554 "Relay access denied" for other domains, even from loopback (mynetworks).
    smtpd_relay_restrictions: 'reject_unauth_destination',
    default_transport: 'error:5.7.1 this test receiver delivers only to its own domains',
    relay_transport: 'error:5.7.1 this test receiver delivers only to its own domains',
    // The Received header then says whether the hop used TLS, with protocol and cipher.
    smtpd_tls_received_header: 'yes',
  };
  if (tls) {
    cf['smtpd_tls_security_level'] = tls.level;
    cf['smtpd_tls_cert_file'] = tls.certFile;
    cf['smtpd_tls_key_file'] = tls.keyFile;
  }
  return cf;
}

/** Postfix's inline: table (Postfix >= 3.0): `inline:{ key=value, ... }`. */
export function inlineTable(entries: readonly (readonly [string, string])[]): string {
  for (const [key, value] of entries) {
    if (/[\s,{}=]/.test(key) || /[\s,{}]/.test(value)) throw new Error(`inline table entry "${key}=${value}" needs quoting; not supported`);
  }
  return `inline:{ ${entries.map(([key, value]) => `${key}=${value}`).join(', ')} }`;
}

export function renderMainCf(cf: MainCf): string {
  return `${Object.entries(cf)
    .map(([key, value]) => {
      if (value.includes('\n')) throw new Error(`main.cf ${key}: newline in value`);
      return `${key} = ${value}`;
    })
    .join('\n')}\n`;
}

/**
 * master.cf: the services a queue needs, all unchrooted, plus an smtpd on `listen` when given.
 * An explicit "127.0.0.1:PORT inet" line binds that address and port only.
 */
export function masterCf(listen?: HostPort): string {
  const lines = [
    '# service type  private unpriv chroot wakeup maxproc command',
    ...(listen ? [`${listen.host}:${listen.port} inet n - n - - smtpd`] : []),
    'pickup    unix  n - n 60    1 pickup',
    'cleanup   unix  n - n -     0 cleanup',
    'qmgr      unix  n - n 300   1 qmgr',
    'tlsmgr    unix  - - n 1000? 1 tlsmgr',
    'rewrite   unix  - - n -     - trivial-rewrite',
    'bounce    unix  - - n -     0 bounce',
    'defer     unix  - - n -     0 bounce',
    'trace     unix  - - n -     0 bounce',
    'verify    unix  - - n -     1 verify',
    'flush     unix  n - n 1000? 0 flush',
    'proxymap  unix  - - n -     - proxymap',
    'proxywrite unix - - n -     1 proxymap',
    'smtp      unix  - - n -     - smtp',
    'relay     unix  - - n -     - smtp',
    'showq     unix  n - n -     - showq',
    'error     unix  - - n -     - error',
    'retry     unix  - - n -     - error',
    'discard   unix  - - n -     - discard',
    'local     unix  - n n -     - local',
    'virtual   unix  - n n -     - virtual',
    'anvil     unix  - - n -     1 anvil',
    'scache    unix  - - n -     1 scache',
    // Postfix >= 3.4: the service that writes maillog_file.
    'postlog   unix-dgram n - n - 1 postlogd',
  ];
  return `${lines.join('\n')}\n`;
}
