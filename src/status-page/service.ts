// The status page, put together for the daemon: the password file read (and its mode checked)
// once at start, a read-only connection to the database for the week of hourly counts, the
// doctor's last findings, and the facts of `sealpost status --json` from the caller (`facts`,
// cli/status.ts's collectStatus, passed in so that this module does not reach up into cli/).
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../config/types.ts';
import type { Db } from '../db/open.ts';
import { readDoctorRecord } from '../doctor/startup.ts';
import type { Logger } from '../log/log.ts';
import type { AttemptsContract } from '../outbound/attempts-store.ts';
import type { CertStore } from '../tls/store.ts';
import { readWeek, WEEK_HOURS, weekFrom } from './history.ts';
import { renderPage, type StatusFacts } from './page.ts';
import { loadPasswordFile } from './password-file.ts';
import { type StatusServer, startStatusServer } from './server.ts';

export interface StatusPageDeps {
  config: Config;
  facts: (now: number) => Promise<StatusFacts>;
  store: CertStore;
  log: Logger;
  now: () => number;
  /** The attempts store of the daemon (on PostgreSQL: every node's attempts); absent: data_dir's attempts table. */
  attempts?: Pick<AttemptsContract, 'hourly'>;
}

export async function startStatusPage(deps: StatusPageDeps): Promise<StatusServer> {
  const { config } = deps;
  let users: Awaited<ReturnType<typeof loadPasswordFile>> | undefined;
  if (config.statusHttp.passwordFile !== '') {
    users = await loadPasswordFile(config.statusHttp.passwordFile);
    if (!users.ok) throw new Error(`status_http.password_file: ${users.problem}`);
  }
  const db: Db = new Database(path.join(config.dataDir, 'sealpost.db'), { readonly: true, fileMustExist: true });
  db.pragma('busy_timeout = 5000');
  try {
    const server = await startStatusServer({
      addresses: config.listen.statusHttp,
      users: users?.ok ? users.entries : undefined,
      store: deps.store,
      tls: config.tls,
      // Its own guard, with the numbers of SMTP AUTH's: failures here do not lock out mail clients.
      guard: { ...config.auth, lockoutMs: config.auth.lockoutSeconds * 1000 },
      log: deps.log,
      now: deps.now,
      page: async (now) => {
        const [facts, doctor] = await Promise.all([deps.facts(now), readDoctorRecord(config.dataDir)]);
        const outbound = deps.attempts ? await deps.attempts.hourly(weekFrom(now)) : undefined;
        return renderPage({ facts, week: readWeek(db, now, WEEK_HOURS, outbound), doctor });
      },
    });
    return {
      addresses: server.addresses,
      async close() {
        await server.close();
        db.close();
      },
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
