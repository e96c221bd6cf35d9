// Applies migrations/NNN_name.sql in order, each in one transaction with PRAGMA user_version.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';

export function migrate(db: Database.Database, dir: string): number {
  const files = readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();
  let version = db.pragma('user_version', { simple: true }) as number;
  for (const file of files) {
    const number = Number.parseInt(file, 10);
    if (number <= version) continue;
    if (number !== version + 1) throw new Error(`migration ${file} skips from version ${version}; migrations must be numbered without gaps`);
    const sql = readFileSync(path.join(dir, file), 'utf8');
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${number}`);
    }).immediate();
    version = number;
  }
  return version;
}
