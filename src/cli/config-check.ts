// `sealpost config check --config FILE`: validate a config; exit 0, or 1 listing every problem.
import { formatProblems, loadConfig } from '../config/load.ts';

export async function run(configFile: string, out = process.stdout, err = process.stderr): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const c = loaded.config;
  out.write(`${loaded.file}: ok (hostname ${c.hostname}, ${c.domains.length} domain${c.domains.length === 1 ? '' : 's'}, data in ${c.dataDir})\n`);
  return 0;
}
