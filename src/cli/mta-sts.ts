// `sealpost mta-sts show [--json] --config FILE`: the MTA-STS policies this config hosts, the DNS
// records to publish for each, and whether DNS (through dns.servers) has the current id and the
// policy host's addresses; each domain's _smtp._tls record and whether the TLS reports received in
// the last --days N days (7) allow "enforce".
// Exit 0, or 1 when a record is missing or old (the _smtp._tls one too). Side effects: DNS queries. Never starts listeners.
import { formatProblems, loadConfig } from '../config/load.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { hostedPolicies } from '../mta-sts/policy.ts';
import { dnsState, hostState, type PolicyShow, renderShow } from '../mta-sts/report.ts';
import { publishedState, tlsRptRecords } from '../tlsrpt/record.ts';
import { enforceAdvice, sinceDays } from '../tlsrpt/summary.ts';
import type { Args } from './args.ts';
import { DEFAULT_DAYS, parseDays, receivedReports } from './tls-report.ts';

export async function run(
  configFile: string,
  args: Args,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const sub = args.words[1];
  if (sub !== 'show') {
    err.write(`sealpost mta-sts: unknown subcommand "${sub ?? ''}"\nusage: sealpost mta-sts show [--days N] [--json] --config FILE\n`);
    return 2;
  }
  const days = parseDays(args.values.get('days'), DEFAULT_DAYS);
  if (typeof days === 'string') {
    err.write(`sealpost mta-sts: ${days}\nusage: sealpost mta-sts show [--days N] [--json] --config FILE\n`);
    return 2;
  }
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const { config } = loaded;
  const resolver = createNodeResolver(config.dns);
  const reports = (await receivedReports(config, sinceDays(Date.now(), days))) ?? [];
  const records = tlsRptRecords(config.domains);
  const shows: PolicyShow[] = await Promise.all(
    hostedPolicies(config).map(async (policy) => {
      const record = records.find((r) => r.domain === policy.domain);
      const [txt, a, aaaa, tlsrptTxt] = await Promise.all([
        resolver.resolveTxt(policy.txtName),
        resolver.resolve4(policy.host),
        resolver.resolve6(policy.host),
        record ? resolver.resolveTxt(record.name) : undefined,
      ]);
      const tlsrpt = record && tlsrptTxt ? { ...record, dns: publishedState(record, tlsrptTxt) } : undefined;
      return {
        policy,
        dns: dnsState(policy, txt),
        host: hostState(policy, a, aaaa),
        ...(tlsrpt ? { tlsrpt } : {}),
        advice: enforceAdvice(policy.domain, reports, days),
      };
    }),
  );
  const facts = { hostname: config.hostname, httpsListening: config.listen.https.length > 0 };
  const report = renderShow(shows, facts);
  if (args.flags.has('json'))
    out.write(
      `${JSON.stringify(
        {
          https: facts.httpsListening,
          policies: shows.map(({ policy, dns, host, tlsrpt, advice }) => ({
            domain: policy.domain,
            mode: policy.mode,
            id: policy.id,
            txt: { name: policy.txtName, value: policy.txt },
            host: policy.host,
            policy: policy.text,
            dns,
            hostDns: host,
            tlsrpt: tlsrpt ? { name: tlsrpt.name, value: tlsrpt.value, dns: tlsrpt.dns } : null,
            enforce: advice,
          })),
          warnings: report.warnings,
        },
        null,
        2,
      )}\n`,
    );
  else out.write(report.text);
  return report.warnings > 0 ? 1 : 0;
}
