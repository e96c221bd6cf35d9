// A real PostgreSQL (Debian `postgresql`) as a test peer: `initdb` into a temp dir and `pg_ctl
// start` on a loopback port, run as the postgres user (root cannot run postgres), password
// (SCRAM) authentication for a superuser `sealpost`, fsync and synchronous_commit on as in
// production. The cluster the Debian package made is never started. Side effects: a temp dir and
// a postgres server, stopped and removed when the scope ends. Needs root.
import { chmod, chown, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './ports.ts';
import { run } from './proc.ts';
import { makeTempDir, removeTempDir, type Scope } from './tmp.ts';

export interface Postgres {
  readonly port: number;
  /** A file holding the password of the `sealpost` user (what [store] password_file names). */
  readonly passwordFile: string;
  readonly password: string;
  /** A fresh, empty database and its URL (no password in it). */
  createDatabase(name: string): Promise<string>;
  /** The server's log so far. */
  log(): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const USER = 'sealpost';
const PASSWORD = 'pg-test-password';

/** The directory of the newest installed server's binaries (/usr/lib/postgresql/<version>/bin). */
async function binDir(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('PostgreSQL is not installed (Debian package postgresql; scripts/install-test-peers installs it)');
  return path.join('/usr/lib/postgresql', versions[0], 'bin');
}

async function asPostgres(command: string, args: readonly string[], timeoutMs = 60_000): Promise<string> {
  const result = await run('runuser', ['-u', 'postgres', '--', command, ...args], { timeoutMs });
  if (result.code !== 0)
    throw new Error(`${path.basename(command)} ${args.join(' ')} failed (${result.code}): ${result.stderr.slice(-1500)}${result.stdout.slice(-500)}`);
  return result.stdout;
}

export async function startPostgres(scope: Scope): Promise<Postgres> {
  const bin = await binDir();
  const dir = await makeTempDir('sealpost-pg-');
  await chmod(dir, 0o700);
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  await chown(dir, uid, gid);
  const data = path.join(dir, 'data');
  const pwfile = path.join(dir, 'initdb-password');
  await writeFile(pwfile, `${PASSWORD}\n`);
  await chown(pwfile, uid, gid);
  await asPostgres(path.join(bin, 'initdb'), ['-D', data, '-U', USER, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8']);
  const passwordFile = path.join(dir, 'password');
  await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  const port = await freePort();
  const logFile = path.join(dir, 'postgres.log');
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=on',
    '-c synchronous_commit=on',
    '-c max_connections=100',
  ].join(' ');
  let running = false;
  const start = async (): Promise<void> => {
    await asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', options, '-w', '-t', '60', 'start'], 90_000);
    running = true;
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await asPostgres(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop'], 90_000);
  };
  await start();
  scope.after(async () => {
    await stop();
    await removeTempDir(dir);
  });
  const base = `postgres://${USER}@127.0.0.1:${port}`;
  return {
    port,
    passwordFile,
    password: PASSWORD,
    async createDatabase(name) {
      const client = new pg.Client({ host: '127.0.0.1', port, user: USER, database: 'postgres', password: PASSWORD });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    stop,
    start,
  };
}
