// `sealpost doctor [--config FILE] [--domain D] [--json] [--ip IP]... [--dns SERVER] [--probe-mx
// HOST|IP:PORT] [--ca-file FILE] [--no-port25] [--no-smarthost]`: checks everything a domain needs
// to send and receive trusted mail (addresses, FCrDNS, MX, SPF, DKIM, DMARC, certificates, CAA,
// blocklists, outbound port 25, the smarthost: connect, TLS, AUTH) through the configured DNS servers and our own probes, and names each fix.
// Exit 0 without errors, 1 with errors, 2 on usage errors. Network I/O; reads the config and keys.
import { readFile } from 'node:fs/promises';
import { parseHostPort } from '../config/fields.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import { canonicalDomain } from '../core/address.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { machineAddresses, pickAddresses } from '../doctor/addresses.ts';
import { runChecks } from '../doctor/families.ts';
import { exitCode } from '../doctor/findings.ts';
import { gatherFacts } from '../doctor/gather.ts';
import { renderJson, renderText } from '../doctor/render.ts';
import { buildTrust, loadTrust } from '../tls-policy/trust.ts';
import { DEFAULT_CONFIG } from './init.ts';

const USAGE = `usage: sealpost doctor [--config FILE] [--domain D] [--json] [options]

  --config FILE         the config (default ${DEFAULT_CONFIG})
  --domain D            only this one of the config's domains (repeatable)
  --json                the findings as JSON, for scripts
  --ip IP               check these public addresses instead of doctor.addresses (repeatable)
  --dns SERVER          ask this DNS server ("IP" or "IP:PORT") instead of dns.servers
  --probe-mx TARGET     the port-25 probe's target instead of doctor.probe_mx (a domain or IP:PORT)
  --ca-file FILE        also trust these CAs (PEM) for our own certificate (test setups)
  --no-port25           skip the outbound port-25 probe
  --no-smarthost        skip the smarthost session (connect, TLS, AUTH with the configured credentials)

Exit 0 without errors, 1 with errors, 2 on usage errors.
`;

type Out = Pick<NodeJS.WriteStream, 'write'>;

interface DoctorArgs {
  config: string;
  domains: string[];
  ips: string[];
  json: boolean;
  dns?: string;
  probeMx?: string;
  caFile?: string;
  port25: boolean;
  smarthost: boolean;
}

export function parseDoctorArgs(argv: readonly string[]): DoctorArgs | string {
  const a: DoctorArgs = { config: DEFAULT_CONFIG, domains: [], ips: [], json: false, port25: true, smarthost: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] as string).split(/=(.*)/s, 2);
    const takes = ['--config', '--domain', '--ip', '--dns', '--probe-mx', '--ca-file'];
    if (takes.includes(flag)) {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') return `${flag} needs a value`;
      if (flag === '--config') a.config = v;
      else if (flag === '--domain') a.domains.push(canonicalDomain(v));
      else if (flag === '--ip') a.ips.push(v);
      else if (flag === '--dns') a.dns = v;
      else if (flag === '--probe-mx') a.probeMx = v;
      else a.caFile = v;
    } else if (flag === '--json' && inline === undefined) a.json = true;
    else if (flag === '--no-port25' && inline === undefined) a.port25 = false;
    else if (flag === '--no-smarthost' && inline === undefined) a.smarthost = false;
    else return `unknown argument "${argv[i]}"`;
  }
  return a;
}

export async function run(argv: readonly string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(USAGE);
    return 0;
  }
  const a = parseDoctorArgs(argv);
  const usage = (problem: string): number => {
    err.write(`sealpost doctor: ${problem}\n\n${USAGE}`);
    return 2;
  };
  if (typeof a === 'string') return usage(a);
  if (a.dns !== undefined && typeof parseHostPort(a.dns, 53) === 'string') return usage(`--dns ${a.dns}: write "IP" or "IP:PORT"`);
  const loaded = await loadConfig(a.config);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 2;
  }
  const { config } = loaded;
  const unknown = a.domains.find((d) => !config.domains.some((x) => x.name === d));
  if (unknown !== undefined) return usage(`--domain ${unknown} is not one of this config's domains (${config.domains.map((d) => d.name).join(', ')})`);
  let extraCa = '';
  for (const file of [config.outbound.caFile, a.caFile ?? ''].filter((f) => f !== '')) {
    try {
      extraCa += `${await readFile(file, 'utf8')}\n`;
    } catch (e) {
      return usage(`cannot read the CA file ${file}: ${(e as Error).message}`);
    }
  }
  const servers = a.dns !== undefined ? [a.dns] : config.dns.servers;
  const picked = pickAddresses(a.ips, config.doctor.addresses, machineAddresses);
  const facts = await gatherFacts(config, {
    resolver: createNodeResolver({ servers, timeoutMs: config.dns.timeoutMs }),
    addresses: picked.addresses,
    addressSource: picked.source,
    domains: a.domains,
    now: Date.now,
    trust: buildTrust(extraCa),
    probeTimeoutMs: 10_000,
    ...(a.port25 ? { port25: { target: a.probeMx ?? config.doctor.probeMx, timeoutMs: 10_000 } } : {}),
    // What delivery trusts (Node's CAs + outbound.ca_file), not --ca-file: the check must see what delivery will.
    ...(a.smarthost ? { smarthost: { trust: loadTrust(config.outbound.caFile), timeoutMs: 15_000 } } : {}),
  });
  const findings = runChecks(facts);
  const header = `sealpost doctor: ${config.hostname}, ${(a.domains.length > 0 ? a.domains : config.domains.map((d) => d.name)).join(', ')}; addresses ${picked.addresses.join(', ') || 'none'}; DNS ${servers.join(', ') || 'system resolver'}`;
  out.write(
    a.json ? renderJson(findings, { hostname: config.hostname, addresses: picked.addresses, addressSource: picked.source }) : renderText(findings, header),
  );
  return exitCode(findings);
}
