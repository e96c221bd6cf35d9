// The `sealpost` command: dispatches a verb to its module. Each verb returns an exit code.
import { parseArgs } from './args.ts';

const USAGE = `usage: sealpost <command> --config FILE [options]

commands:
  init --domain D --hostname H [--ip IP]...
                             write a config and DKIM keys; print every DNS record to publish
                             (init --records [--json]: the records again; --config optional)
  doctor [--domain D] [--json]
                             check DNS, PTR, SPF, DKIM, DMARC, certificates, blocklists, port 25;
                             each problem with its fix (sealpost doctor --help for every option)
  start                      run the daemon in the foreground (JSON logs on stdout)
  config check               validate the config; list every problem with its key path
  certs [--json]             list certificates: names, issuer, expiry, next renewal, last error
  certs renew [--force]      renew now, through the running daemon or on its own
  send -f SENDER RCPT...     queue the message on standard input (sendmail-like injection)
  queue list [--json] [--limit N] [--after ID]
                             the queue, oldest first, one line per message (1000 unless --limit); says the total
  queue show ID [--json]     a message, its recipients, every delivery attempt, next attempt time
  queue retry ID|--all       try now
  queue hold ID / release ID keep a message from delivery / let it go again
  queue delete ID            remove a message without a bounce
  user add|passwd|del ADDR   a submission user (password on stdin or prompted, never an argument)
  user list [--json]         the users and the addresses each may send as
  dkim keygen --domain D --selector S [--type rsa-2048|ed25519]
                             make a DKIM key; prints the DNS TXT record to publish
  dkim show                  the TXT records of the configured DKIM keys
  mta-sts show [--days N] [--json]
                             the MTA-STS policies we host, the DNS records to publish, whether DNS
                             has the id, whether the TLS reports of the last N days (7) allow enforce
  dane show [--json]         the TLSA records (3 1 1) to publish for _25._tcp.<hostname>, the next key's too
  dane rollover              stage a new ACME key; the first renewal after acme.rollover_after uses it
  tls-report [--days N] [--json]
                             the TLS reports other domains sent us (tlsrpt_rua): per organization
                             and day, sessions, failures by type, sending MTA IPs (last 7 days)
  status [--json]            listeners, certificates, queue, last delivery errors, TLS share (last
                             day), TLS reports received (last 7 days), the _smtp._tls records
  backup --out DIR|FILE.tar.zst [--with-mail]
                             a consistent copy of the queue, keys, certificates and config while
                             the daemon runs (Maildirs only with --with-mail)
  restore FILE.tar.zst|DIR   a backup into the empty data_dir of --config (the backup's config is
                             written there when the file does not exist)
  store init                 create or upgrade the schema of the PostgreSQL queue ([store] kind = "postgres")
  store status [--json]      its schema version, nodes with their heartbeat and claims, recipients by state
  nodes [--json]             the nodes sharing the PostgreSQL queue: heartbeat age, claims; silent > 3 × lease: gone
  store migrate --to postgres://USER@HOST:PORT/DB [--json]
                             copy the stopped SQLite queue (messages, recipients, users, …, the ACME and
                             DKIM files) into an empty PostgreSQL database; counts checked after COMMIT
  tls-check DOMAIN|HOST[:PORT] [--json] [--dns SERVER] [--ca-file FILE]
                             the mail TLS of a domain's MX hosts, explained (--config optional;
                             sealpost tls-check --help for every option)
`;

async function main(argv: string[]): Promise<number> {
  // tls-check needs no config and has options of its own: it parses its arguments itself.
  if (argv[0] === 'tls-check') return (await import('./tls-check.ts')).run(argv.slice(1));
  // init and doctor default to /etc/sealpost/sealpost.toml and take repeatable --ip: the same.
  if (argv[0] === 'init') return (await import('./init.ts')).run(argv.slice(1));
  if (argv[0] === 'doctor') return (await import('./doctor.ts')).run(argv.slice(1));
  const args = parseArgs(argv, ['config', 'f', 'domain', 'selector', 'type', 'limit', 'after', 'out', 'days', 'to']);
  if (typeof args === 'string') return usage(args);
  const [verb, sub] = args.words;
  if (args.flags.has('help') || args.flags.has('h') || verb === 'help' || verb === undefined) {
    process.stdout.write(USAGE);
    return verb === undefined && !args.flags.has('help') && !args.flags.has('h') ? 2 : 0;
  }
  const config = args.values.get('config');
  if (config === undefined) return usage(`${verb}: --config FILE is required (for example config/sealpost.dev.toml)`);
  switch (verb) {
    case 'start':
      return (await import('./start.ts')).run(config);
    case 'certs':
      return (await import('./certs.ts')).run(args);
    case 'send':
      return (await import('./send.ts')).run(config, args);
    case 'queue':
      return (await import('./queue.ts')).run(config, args);
    case 'user':
      return (await import('./user.ts')).run(config, args);
    case 'dkim':
      return (await import('./dkim.ts')).run(config, args);
    case 'status':
      return (await import('./status.ts')).run(config, args);
    case 'mta-sts':
      return (await import('./mta-sts.ts')).run(config, args);
    case 'dane':
      return (await import('./dane.ts')).run(config, args);
    case 'tls-report':
      return (await import('./tls-report.ts')).run(config, args);
    case 'backup':
      return (await import('./backup.ts')).run(config, args);
    case 'restore':
      return (await import('./restore.ts')).run(config, args);
    case 'store':
      return (await import('./store.ts')).run(config, args);
    case 'nodes':
      return (await import('./nodes.ts')).run(config, args);
    case 'config':
      if (sub === 'check') return (await import('./config-check.ts')).run(config);
      return usage(`config: unknown subcommand "${sub ?? ''}"; try: sealpost config check --config FILE`);
    default:
      return usage(`unknown command "${verb}"`);
  }
}

function usage(problem: string): number {
  process.stderr.write(`sealpost: ${problem}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sealpost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
