// Shared by the CLI verbs that read or change the queue: load the config, open the database.
// Never starts listeners.
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import { type Db, MIGRATIONS_DIR, openDb } from '../db/open.ts';

export async function openForCli(configFile: string, err: NodeJS.WritableStream): Promise<{ config: Config; db: Db } | undefined> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return undefined;
  }
  return { config: loaded.config, db: openDb(loaded.config.dataDir, MIGRATIONS_DIR) };
}
