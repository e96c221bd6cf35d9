// `sealpost tls-check DOMAIN | HOST[:PORT] [--json] [--dns SERVER] [--port N] [--ca-file FILE]
// [--config FILE] [--helo NAME] [--timeout SECONDS]`: the mail TLS of a domain's MX hosts (or
// one host), explained, with each MX host's TLSA records when DNSSEC validation works. Exit 0 when every MX host verifies, 1 when one does not, 2 for a usage
// error. A client only: no listener, no database; DNS through --dns, else the config's
// dns.servers, else the system resolver.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import tls from 'node:tls';
import { parseHostPort } from '../config/fields.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { createDnssecResolver, parseServer } from '../dns/dnssec-resolver.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { probeValidation } from '../dns/validation-probe.ts';
import type { DaneState } from '../outbound/courier.ts';
import { fetchStsPolicy } from '../tls-policy/sts-fetch.ts';
import { buildTrust } from '../tls-policy/trust.ts';
import { runTlsCheck } from '../tlscheck/check.ts';
import { renderReport } from '../tlscheck/render.ts';
import { parseTarget } from '../tlscheck/target.ts';
import { parseArgs } from './args.ts';

export const TLS_CHECK_USAGE = `usage: sealpost tls-check DOMAIN | HOST[:PORT] [options]

  DOMAIN           check each MX host of the domain, in preference order, and its MTA-STS policy
  HOST:PORT, IP    check that one host (no MX lookup)

options:
  --json           print the report as JSON
  --dns SERVER     DNS server to ask ("IP" or "IP:PORT"); default: the config's dns.servers,
                   else the system resolver
  --port N         port of the MX hosts (default: the config's outbound.port, else 25)
  --ca-file FILE   also trust the CA certificates (PEM) in FILE
  --config FILE    use this Sealpost config: DNS servers, outbound TLS policy, CA file, EHLO name
  --helo NAME      the name to send in EHLO (default: the config's hostname, else this machine's)
  --timeout S      seconds allowed for the connection and for each reply (default 15)

exit status: 0 every MX host verifies, 1 one does not (or none could be checked), 2 usage error
`;

type Out = Pick<NodeJS.WriteStream, 'write'>;

export async function run(argv: readonly string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const args = parseArgs(argv, ['config', 'dns', 'port', 'ca-file', 'helo', 'timeout']);
  const usage = (problem: string): number => {
    err.write(`sealpost tls-check: ${problem}\n\n${TLS_CHECK_USAGE}`);
    return 2;
  };
  if (typeof args === 'string') return usage(args);
  if (args.flags.has('help') || args.flags.has('h')) {
    out.write(TLS_CHECK_USAGE);
    return 0;
  }
  const unknown = [...args.flags].find((f) => f !== 'json');
  if (unknown !== undefined) return usage(`unknown option --${unknown}`);
  if (args.words.length !== 1)
    return usage(args.words.length === 0 ? 'which domain or host? e.g. sealpost tls-check example.org' : `one target at a time (got ${args.words.join(' ')})`);
  const target = parseTarget(args.words[0] as string);
  if ('error' in target) return usage(target.error);

  let config: Config | undefined;
  const configFile = args.values.get('config');
  if (configFile !== undefined) {
    const loaded = await loadConfig(configFile);
    if (!loaded.ok) {
      err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
      return 2;
    }
    config = loaded.config;
  }
  const dnsOption = args.values.get('dns');
  if (dnsOption !== undefined && typeof parseHostPort(dnsOption, 53) === 'string')
    return usage(`--dns ${dnsOption}: ${parseHostPort(dnsOption, 53) as string}`);
  const servers = dnsOption !== undefined ? [dnsOption] : (config?.dns.servers ?? []);
  const port = number(args.values.get('port'), config?.outbound.port ?? 25, 1, 65535);
  const timeout = number(args.values.get('timeout'), 15, 1, 600);
  if (port === undefined) return usage(`--port ${args.values.get('port') ?? ''}: give a port from 1 to 65535`);
  if (timeout === undefined) return usage(`--timeout ${args.values.get('timeout') ?? ''}: give seconds from 1 to 600`);

  let extraCa = '';
  for (const file of [config?.outbound.caFile ?? '', args.values.get('ca-file') ?? ''].filter((f) => f !== '')) {
    try {
      extraCa += `${await readFile(file, 'utf8')}\n`;
    } catch (e) {
      err.write(`sealpost tls-check: cannot read the CA file ${file}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const trust = buildTrust(extraCa);
  const ipv6 = config?.outbound.ipv6 ?? true;
  const resolver = createNodeResolver({ servers, timeoutMs: config?.dns.timeoutMs ?? 5000 });
  // DANE (RFC 7672): TLSA records count only through a validating resolver whose AD bit we believe.
  const trustAd = config?.dns.trustAd ?? false;
  const dnssec = createDnssecResolver({ servers, timeoutMs: config?.dns.timeoutMs ?? 5000, trustAd });
  const probe = await probeValidation(
    servers.length > 0 ? servers.map(parseServer).filter((s) => s !== undefined) : dnssec.servers,
    trustAd,
    Math.min(config?.dns.timeoutMs ?? 5000, 3000),
  );
  const dane: DaneState = probe.validating ? { on: true, resolver: dnssec } : { on: false, why: probe.why };
  const report = await runTlsCheck(target, {
    resolver,
    dnsLabel: servers.length > 0 ? servers.join(', ') : 'system',
    trust,
    noTrust: tls.createSecureContext({ ca: [] }),
    heloName: args.values.get('helo') ?? config?.hostname ?? os.hostname(),
    port,
    ipv6,
    connectTimeoutMs: timeout * 1000,
    commandTimeoutMs: timeout * 1000,
    tlsPolicy: config?.outbound.tlsPolicy ?? {},
    // "dane" (the default) without DNSSEC validation is "may", as in delivery.
    tlsDefault: dane.on ? (config?.outbound.tlsDefault ?? 'dane') : config?.outbound.tlsDefault === 'dane' ? 'may' : (config?.outbound.tlsDefault ?? 'may'),
    mtaSts: config?.outbound.mtaSts ?? true,
    fetchSts: (domain) => fetchStsPolicy(domain, { resolver, trust, timeoutMs: timeout * 1000, ipv6 }),
    dane,
    now: Date.now,
  });
  out.write(args.flags.has('json') ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, Date.now()));
  return report.verified ? 0 : 1;
}

function number(text: string | undefined, fallback: number, min: number, max: number): number | undefined {
  if (text === undefined) return fallback;
  const n = Number(text);
  return Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}
