// `sealpost init --domain D --hostname H [--ip IP]... [--config FILE] [--data-dir DIR] [--mailbox NAME]`
// writes a commented config for one domain (a postmaster alias, ACME on, safe defaults) and its two
// DKIM keys (ed25519 and rsa-2048, dated selectors), then prints every DNS record to publish, as
// zone-file lines and as a table. Never replaces a config or a key: it names what exists and stops.
// `sealpost init --records [--json] [--config FILE]` prints the records of a config again.
// Side effects: writes the config (0640) and the keys (0600); reads the network interfaces.
import { access, chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { formatProblems, loadConfig } from '../config/load.ts';
import { canonicalDomain } from '../core/address.ts';
import { writeFileAtomic } from '../core/durable-fs.ts';
import { dkimKeyPath, generateDkimKey, writeNewKey } from '../dkim/keys.ts';
import { machineAddresses, pickAddresses } from '../doctor/addresses.ts';
import { recordsFromConfig } from '../records/from-config.ts';
import type { DnsRecord } from '../records/records.ts';
import { renderTable, renderZone } from '../records/render.ts';

export const DEFAULT_CONFIG = '/etc/sealpost/sealpost.toml';

const USAGE = `usage: sealpost init --domain DOMAIN --hostname HOST [--ip IP]... [--config FILE] [--data-dir DIR] [--mailbox NAME]
       sealpost init --records [--json] [--config FILE]

  --domain D      the mail domain (example.org)
  --hostname H    this server's name, where the MX points (mx.example.org)
  --ip IP         a public address of this server (repeat for IPv4 and IPv6); default: the
                  machine's global addresses
  --config FILE   where the config goes (default ${DEFAULT_CONFIG})
  --data-dir DIR  queue, Maildirs, certificates, DKIM keys (default /var/lib/sealpost, or "data"
                  beside a config outside /etc)
  --mailbox NAME  the one mailbox to create; postmaster, abuse and dmarc are its aliases (default admin)
  --records       print the DNS records of an existing config again (--json: as JSON)
`;

type Out = Pick<NodeJS.WriteStream, 'write'>;

interface InitArgs {
  domain?: string;
  hostname?: string;
  ips: string[];
  config: string;
  dataDir?: string;
  mailbox: string;
  records: boolean;
  json: boolean;
}

export function parseInitArgs(argv: readonly string[]): InitArgs | string {
  const a: InitArgs = { ips: [], config: DEFAULT_CONFIG, mailbox: 'admin', records: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] as string).split(/=(.*)/s, 2);
    if (['--domain', '--hostname', '--ip', '--config', '--data-dir', '--mailbox'].includes(flag)) {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') return `${flag} needs a value`;
      if (flag === '--domain') a.domain = v;
      else if (flag === '--hostname') a.hostname = v;
      else if (flag === '--ip') a.ips.push(v);
      else if (flag === '--config') a.config = v;
      else if (flag === '--data-dir') a.dataDir = v;
      else a.mailbox = v.toLowerCase();
    } else if (flag === '--records' && inline === undefined) a.records = true;
    else if (flag === '--json' && inline === undefined) a.json = true;
    else return `unknown argument "${argv[i]}"`;
  }
  return a;
}

export async function run(
  argv: readonly string[],
  out: Out = process.stdout,
  err: Out = process.stderr,
  machine: () => string[] = machineAddresses,
  now: Date = new Date(),
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.write(USAGE);
    return 0;
  }
  const parsed = parseInitArgs(argv);
  const usage = (problem: string): number => {
    err.write(`sealpost init: ${problem}\n\n${USAGE}`);
    return 2;
  };
  if (typeof parsed === 'string') return usage(parsed);
  if (parsed.records) return printRecords(parsed, out, err, machine);
  const domain = canonicalDomain(parsed.domain ?? '');
  const hostname = canonicalDomain(parsed.hostname ?? '');
  if (!parsed.domain || !parsed.hostname) return usage('--domain and --hostname are required');
  if (domain === '' || !domain.includes('.') || domain.startsWith('[')) return usage(`--domain ${parsed.domain}: not a domain name`);
  if (hostname === '' || !hostname.includes('.') || hostname.startsWith('[')) return usage(`--hostname ${parsed.hostname}: not a fully qualified host name`);
  const badIp = parsed.ips.find((ip) => net.isIP(ip) === 0);
  if (badIp) return usage(`--ip ${badIp}: not an IP address`);
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(parsed.mailbox)) return usage(`--mailbox ${parsed.mailbox}: use letters, digits, . _ -`);

  const configFile = path.resolve(parsed.config);
  const underEtc = configFile.startsWith('/etc/');
  const dataDirText = parsed.dataDir ?? (underEtc ? '/var/lib/sealpost' : 'data');
  const dataDir = path.resolve(path.dirname(configFile), dataDirText);
  const month = `${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
  const keys = [
    { selector: `ed${month}`, type: 'ed25519' as const },
    { selector: `rsa${month}`, type: 'rsa-2048' as const },
  ].map((k) => ({ ...k, file: dkimKeyPath(dataDir, domain, k.selector) }));

  // scripts/install.sh puts the example there as a placeholder: that one is not the operator's.
  const placeholder = await isUntouchedExample(configFile);
  const existing = (
    await Promise.all([...(placeholder ? [] : [configFile]), ...keys.map((k) => k.file)].map(async (f) => ((await exists(f)) ? f : undefined)))
  ).filter((f) => f !== undefined);
  if (existing.length > 0) {
    err.write(
      `sealpost init: ${existing.join(' and ')} ${existing.length === 1 ? 'exists' : 'exist'}; nothing was written (init never replaces a config or a key).\n  See the records of the existing config: sealpost init --records --config ${configFile}\n`,
    );
    return 1;
  }

  const picked = pickAddresses(parsed.ips, [], machine);
  const text = configText({
    domain,
    hostname,
    dataDir: dataDirText,
    mailbox: parsed.mailbox,
    addresses: picked.addresses,
    selectors: keys.map((k) => k.selector),
    date: now.toISOString().slice(0, 10),
  });
  for (const k of keys) await writeNewKey(k.file, generateDkimKey(k.type), false);
  await mkdir(path.dirname(configFile), { recursive: true, mode: 0o750 });
  if (placeholder) await rm(configFile);
  await writeFileAtomic(configFile, text, 0o640, { exclusive: true });
  await handOver(
    configFile,
    dataDir,
    domain,
    keys.map((k) => k.file),
  );

  const loaded = await loadConfig(configFile);
  if (!loaded.ok) throw new Error(`init wrote a config that does not validate: ${formatProblems(loaded.file, loaded.problems)}`);
  const { records } = await recordsFromConfig(loaded.config, picked.addresses);
  const source =
    picked.source === 'flag' ? 'from --ip' : "found on this machine's interfaces (check them: behind NAT these are not the public ones; pass --ip)";
  out.write(
    [
      `wrote ${configFile}${placeholder ? ' (in place of the unchanged example that scripts/install.sh put there)' : ''}`,
      ...keys.map((k) => `made the DKIM key ${k.file} (${k.type}, selector ${k.selector})`),
      picked.addresses.length > 0
        ? `public addresses: ${picked.addresses.join(', ')} (${source})`
        : 'public addresses: none found on this machine; pass --ip, or set doctor.addresses in the config',
      '',
      renderRecords(records),
      'Next:',
      `  1. publish the records above (the PTR at your hosting provider)`,
      `  2. sealpost doctor --config ${configFile}      checks every record and names each fix`,
      `  3. sealpost start --config ${configFile}       (or systemctl enable --now sealpost)`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function printRecords(a: InitArgs, out: Out, err: Out, machine: () => string[]): Promise<number> {
  const loaded = await loadConfig(a.config);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const picked = pickAddresses(a.ips, loaded.config.doctor.addresses, machine);
  const { records, problems } = await recordsFromConfig(loaded.config, picked.addresses);
  for (const p of problems) err.write(`sealpost init: ${p}\n`);
  if (a.json)
    out.write(`${JSON.stringify({ hostname: loaded.config.hostname, addresses: picked.addresses, addressSource: picked.source, records }, null, 2)}\n`);
  else out.write(renderRecords(records));
  return problems.length > 0 ? 1 : 0;
}

function renderRecords(records: readonly DnsRecord[]): string {
  return `${renderZone(records)}\nThe same, for a web DNS panel:\n\n${renderTable(records)}`;
}

/** The example config as shipped beside this program (src/ or dist/: ../../config). */
async function isUntouchedExample(file: string): Promise<boolean> {
  try {
    const example = await readFile(path.resolve(import.meta.dirname, '../../config/sealpost.example.toml'), 'utf8');
    return (await readFile(file, 'utf8')) === example;
  } catch {
    return false;
  }
}

/**
 * Run as root on an installed system (scripts/install.sh): the service user owns data_dir, so the
 * new keys and their folders become its (the daemon must read them); the config goes to root with
 * the group of its folder (root:sealpost 0640, as install.sh leaves it).
 */
async function handOver(configFile: string, dataDir: string, domain: string, keyFiles: readonly string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const data = await stat(dataDir);
  if (data.uid !== 0) {
    for (const f of [path.join(dataDir, 'dkim'), path.join(dataDir, 'dkim', domain), ...keyFiles]) await chown(f, data.uid, data.gid);
  }
  const folder = await stat(path.dirname(configFile));
  await chown(configFile, 0, folder.gid);
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

interface ConfigInputs {
  domain: string;
  hostname: string;
  dataDir: string;
  mailbox: string;
  addresses: readonly string[];
  selectors: readonly string[];
  date: string;
}

/** The config init writes: the example config's shape (config/sealpost.example.toml documents every key). */
export function configText(i: ConfigInputs): string {
  const list = (xs: readonly string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;
  return `# Sealpost configuration for ${i.domain}, written by \`sealpost init\` on ${i.date}.
# Every key, its default and what it does: config/sealpost.example.toml. Unknown keys are errors.
#   sealpost config check --config FILE     validate this file
#   sealpost init --records --config FILE   the DNS records to publish, again
#   sealpost doctor --config FILE           check DNS, certificates, blocklists and port 25

# The name in EHLO, in Received headers and on the certificate; the MX of ${i.domain} points here.
hostname = ${JSON.stringify(i.hostname)}

# Queue (sealpost.db), Maildirs (mail/<domain>/<mailbox>/), certificates and DKIM keys. Mode 0700.
data_dir = ${JSON.stringify(i.dataDir)}

[listen]
# Mail from the Internet.
smtp = ["0.0.0.0:25", "[::]:25"]
# Your users' mail programs (AUTH only inside TLS; add users with sealpost user add).
submission = ["0.0.0.0:587", "[::]:587"]
submissions = ["0.0.0.0:465", "[::]:465"]
# HTTP-01 for [acme]: the CA connects to port 80.
acme_http = ["0.0.0.0:80", "[::]:80"]
# The status page (README "The status page"): loopback, reached through ssh -L 8025:127.0.0.1:8025.
# status_http = ["127.0.0.1:8025"]
# Prometheus metrics, GET /metrics (README "Metrics (Prometheus)").
# metrics = ["127.0.0.1:9309"]

[tls]
min_version = "TLSv1.2"

[acme]
# A certificate for hostname from Let's Encrypt, renewed by itself. Until it is issued a
# self-signed certificate serves. Status: sealpost certs --config FILE
enabled = true
directory = "https://acme-v02.api.letsencrypt.org/directory"
email = ${JSON.stringify(`postmaster@${i.domain}`)}

[dns]
# DNS servers to ask; [] = the system's. A local resolver (unbound) lets the blocklists answer.
servers = []

[[domain]]
name = ${JSON.stringify(i.domain)}
mailboxes = [${JSON.stringify(i.mailbox)}]
# RFC 5321 §4.5.1 wants postmaster; abuse for complaints; dmarc receives the DMARC reports.
aliases = { postmaster = ${JSON.stringify(i.mailbox)}, abuse = ${JSON.stringify(i.mailbox)}, dmarc = ${JSON.stringify(i.mailbox)} }
catch_all = ""
# One signature per selector (ed25519 and rsa-2048); keys in data_dir/dkim/${i.domain}/.
dkim_selectors = ${list(i.selectors)}

[relay]
# Only this machine may relay without AUTH.
networks = ["127.0.0.1/32", "::1/128"]

[inbound]
# SPF, DKIM and DMARC of incoming mail, in Authentication-Results.
authentication_results = true

[doctor]
# This server's public addresses: the SPF record, the A/AAAA and PTR records, sealpost doctor.
addresses = ${list(i.addresses)}
`;
}
