// `sealpost dkim keygen --domain D --selector S [--type rsa-2048|ed25519] [--force] --config FILE`
// makes a signing key in <data_dir>/dkim/D/S.pem and prints the DNS TXT record to publish and the
// config line that turns signing on; `sealpost dkim show --config FILE` prints the records of the
// configured keys again. Side effects: writes the key file (0600), reads keys. Never starts listeners.
import { formatProblems, loadConfig } from '../config/load.ts';
import { canonicalDomain } from '../core/address.ts';
import {
  DKIM_KEY_TYPES,
  type DkimKeyType,
  dkimKeyPath,
  dkimRecord,
  generateDkimKey,
  loadDkimKeys,
  validSelector,
  writeNewKey,
  zoneLine,
} from '../dkim/keys.ts';
import { withFileWriter } from '../shared-files/node.ts';
import type { Args } from './args.ts';

export async function run(
  configFile: string,
  args: Args,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const sub = args.words[1];
  const usage = (problem: string) => {
    err.write(
      `sealpost dkim: ${problem}\nusage: sealpost dkim keygen --domain DOMAIN --selector SELECTOR [--type rsa-2048|ed25519] [--force] --config FILE\n       sealpost dkim show --config FILE\n`,
    );
    return 2;
  };
  if (sub !== 'keygen' && sub !== 'show') return usage(`unknown subcommand "${sub ?? ''}"`);
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const { config } = loaded;

  if (sub === 'show') {
    if (config.dkim.length === 0) {
      out.write('no domain signs yet: create a key with sealpost dkim keygen --domain DOMAIN --selector SELECTOR --config FILE\n');
      return 0;
    }
    try {
      for (const key of await loadDkimKeys(config.dataDir, config.dkim)) {
        out.write(
          `; ${key.domain} selector ${key.selector} (${key.algorithm}), ${key.file}\n${zoneLine(key.domain, key.selector, dkimRecord(key.privateKeyPem))}\n`,
        );
      }
      return 0;
    } catch (e) {
      err.write(`sealpost dkim: ${(e as Error).message}\n`);
      return 1;
    }
  }

  const domainArg = args.values.get('domain');
  const selector = args.values.get('selector')?.toLowerCase();
  const type = args.values.get('type') ?? 'rsa-2048';
  if (domainArg === undefined || selector === undefined) return usage('keygen needs --domain and --selector');
  const domain = canonicalDomain(domainArg);
  if (!config.domains.some((d) => d.name === domain)) return usage(`${domainArg} is not one of this server's domains ([[domain]] in ${loaded.file})`);
  if (!validSelector(selector)) return usage(`"${selector}" is not a selector; use DNS labels (letters, digits, hyphens), e.g. "s2026"`);
  if (!(DKIM_KEY_TYPES as readonly string[]).includes(type)) return usage(`--type must be one of ${DKIM_KEY_TYPES.join(', ')}`);

  const file = dkimKeyPath(config.dataDir, domain, selector);
  const pem = generateDkimKey(type as DkimKeyType);
  try {
    // With [store] kind = "postgres" the key goes to PostgreSQL too: every node takes it in (shared-files/).
    await withFileWriter(config.store, config.dataDir, (files) => writeNewKey(file, pem, args.flags.has('force'), files));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      err.write(
        `sealpost dkim: ${file} exists; rotate keys with a new selector (or replace it with --force, which breaks mail signed with the old key until DNS has the new record)\n`,
      );
      return 1;
    }
    throw e;
  }
  const configured = config.dkim.find((d) => d.domain === domain)?.selectors ?? [];
  const signs = configured.includes(selector);
  out.write(
    [
      `created ${file} (${type})`,
      '',
      'Publish this TXT record in DNS:',
      '',
      zoneLine(domain, selector, dkimRecord(pem)),
      '',
      ...(config.store.kind === 'postgres' ? ['Stored in PostgreSQL too: every node has the file within seconds.', ''] : []),
      signs
        ? `${domain} already lists "${selector}" in dkim_selectors: reload Sealpost (SIGHUP: systemctl reload sealpost; with [store] kind = "postgres" each node does so by itself) to sign with the new key.`
        : `Then sign with it: in the [[domain]] table of ${domain} in ${loaded.file} set\n  dkim_selectors = ${JSON.stringify([...configured, selector])}\nand restart Sealpost (publish the record first: mail signed before it is visible fails DKIM).`,
      '',
    ].join('\n'),
  );
  return 0;
}
