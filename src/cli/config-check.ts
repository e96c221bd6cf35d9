// `sealpost config check --config FILE`: validate a config, then its paths against the file
// system (data_dir, certificate files); exit 0 (warnings, if any, on stderr), or 1 listing every problem.
import { formatProblems, formatWarnings, loadConfig } from '../config/load.ts';
import { checkPaths, nodePathFs, type PathFs } from './check-paths.ts';

export async function run(configFile: string, out = process.stdout, err = process.stderr, fs: PathFs = nodePathFs()): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const c = loaded.config;
  const problems = await checkPaths(c, fs);
  err.write(formatWarnings(loaded.file, loaded.warnings));
  if (problems.length > 0) {
    err.write(`${formatProblems(loaded.file, problems)}\n`);
    return 1;
  }
  const warned = loaded.warnings.length > 0 ? `; ${loaded.warnings.length} warning${loaded.warnings.length === 1 ? '' : 's'}` : '';
  out.write(`${loaded.file}: ok (hostname ${c.hostname}, ${c.domains.length} domain${c.domains.length === 1 ? '' : 's'}, data in ${c.dataDir}${warned})\n`);
  return 0;
}
