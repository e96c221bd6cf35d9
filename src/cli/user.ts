// `sealpost user add|passwd|del|list --config FILE`: the submission users. A password is read
// from standard input (its first line) or, on a terminal, prompted for twice without echo; never
// from the command line, where `ps` and shell history would keep it. Changes apply to a running
// daemon at once (it reads the users table per AUTH; with [store] kind = "postgres", every node's).
// Side effects: the database (data_dir's, or the nodes' PostgreSQL), the terminal.

import { hashPassword } from '../auth/password.ts';
import { ownedAddresses, senderAllowed } from '../auth/senders.ts';
import { normalizeLogin, type UserStore } from '../auth/users.ts';
import type { Config } from '../config/types.ts';
import { buildDirectory } from '../routing/recipients.ts';
import { openSharedStores, type SharedStores } from '../shared-state/stores.ts';
import type { Args } from './args.ts';
import { openForCli } from './open.ts';

export interface UserIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

const MIN_PASSWORD = 8;
const MAX_PASSWORD = 1024;

export async function run(configFile: string, args: Args, io: UserIo = { input: process.stdin, out: process.stdout, err: process.stderr }): Promise<number> {
  const [, sub, target] = args.words;
  const usage = (problem: string) => {
    io.err.write(
      `sealpost user: ${problem}\nusage: sealpost user add|passwd|del ADDRESS --config FILE  (password on stdin or prompted)\n       sealpost user list [--json] --config FILE\n`,
    );
    return 2;
  };
  if (sub !== 'add' && sub !== 'passwd' && sub !== 'del' && sub !== 'list') return usage(`unknown subcommand "${sub ?? ''}"`);
  const address = target === undefined ? undefined : normalizeLogin(target);
  if (sub !== 'list' && address === undefined) return usage(target === undefined ? `${sub} needs the user's address` : `"${target}" is not an email address`);

  const opened = await openForCli(configFile, io.err);
  if (!opened) return 1;
  const { config, db } = opened;
  let shared: SharedStores | undefined;
  try {
    // data_dir's database, or with [store] kind = "postgres" the one every node reads per AUTH.
    shared = await openSharedStores(config, { db });
    const users = shared.users;
    if (sub === 'list' || address === undefined) return await list(users, config, args.flags.has('json'), io);
    if (sub === 'del') {
      if (!(await users.remove(address))) return fail(io, `no user ${address}`);
      io.out.write(`deleted ${address}\n`);
      return 0;
    }
    const exists = (await users.passwordHash(address)) !== undefined;
    if (sub === 'add') {
      const problem = notAMailbox(address, config);
      if (problem) return fail(io, problem);
      if (exists) return fail(io, `${address} exists already; change its password with: sealpost user passwd ${address} --config FILE`);
    } else if (!exists) {
      return fail(io, `no user ${address}; add it with: sealpost user add ${address} --config FILE`);
    }
    const password = await readPassword(io, address);
    if (typeof password !== 'string') return fail(io, password.error);
    const hash = await hashPassword(password);
    if (sub === 'add') {
      if (!(await users.add(address, hash, Date.now()))) return fail(io, `${address} exists already`);
      io.out.write(`added ${address}; may send as ${ownedAddresses(address, buildDirectory(config.domains)).join(', ')}\n`);
    } else {
      if (!(await users.setPassword(address, hash, Date.now()))) return fail(io, `no user ${address}`);
      io.out.write(`password changed for ${address}\n`);
    }
    return 0;
  } finally {
    await shared?.close();
    db.close();
  }
}

async function list(users: UserStore, config: Config, json: boolean, io: UserIo): Promise<number> {
  const directory = buildDirectory(config.domains);
  const rows = (await users.list()).map((u) => ({
    ...u,
    sendsAs: ownedAddresses(u.address, directory),
    mailbox: notAMailbox(u.address, config) === undefined,
  }));
  if (json) {
    io.out.write(
      `${JSON.stringify(rows.map((r) => ({ address: r.address, createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString(), sendsAs: r.sendsAs, mailbox: r.mailbox })))}\n`,
    );
    return 0;
  }
  if (rows.length === 0) io.out.write('no users; add one with: sealpost user add ADDRESS --config FILE\n');
  for (const r of rows) {
    const warning = r.mailbox ? '' : '  (no longer a mailbox in the config)';
    io.out.write(`${r.address}  password set ${new Date(r.updatedAt).toISOString()}  sends as: ${r.sendsAs.join(', ')}${warning}\n`);
  }
  return 0;
}

/** Users are mailboxes of our domains; an alias belongs to the mailbox it points to. */
function notAMailbox(address: string, config: Config): string | undefined {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  const domain = config.domains.find((d) => d.name === address.slice(at + 1));
  if (!domain) return `${address}: ${address.slice(at + 1)} is not one of this server's domains ([[domain]] in the config)`;
  if (domain.mailboxes.includes(local)) return undefined;
  const owner = Object.keys(domain.aliases).includes(local) ? ownerOf(address, config) : undefined;
  if (owner) return `${address} is an alias of ${owner}: add ${owner} as the user; it may send as ${address}`;
  return `${address} is not a mailbox: add "${local}" to mailboxes of the [[domain]] ${domain.name} first`;
}

function ownerOf(address: string, config: Config): string | undefined {
  const directory = buildDirectory(config.domains);
  for (const d of config.domains) for (const m of d.mailboxes) if (senderAllowed(`${m}@${d.name}`, address, directory)) return `${m}@${d.name}`;
  return undefined;
}

async function readPassword(io: UserIo, address: string): Promise<string | { error: string }> {
  let password: string;
  if (io.input.isTTY && io.input.setRawMode) {
    password = await promptHidden(`Password for ${address}: `, io);
    const again = await promptHidden('Again: ', io);
    if (again !== password) return { error: 'the two passwords differ; nothing changed' };
  } else {
    const chunks: Buffer[] = [];
    for await (const chunk of io.input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  const length = [...password].length;
  if (length < MIN_PASSWORD) return { error: `the password has ${length} characters; use at least ${MIN_PASSWORD} (nothing changed)` };
  if (length > MAX_PASSWORD) return { error: `the password is longer than ${MAX_PASSWORD} characters (nothing changed)` };
  if (/[\x00-\x1f\x7f]/.test(password)) return { error: 'the password contains control characters (nothing changed)' };
  return password;
}

/** Reads one line from a terminal without echo; Ctrl-C cancels. */
function promptHidden(prompt: string, io: UserIo): Promise<string> {
  const input = io.input;
  io.err.write(prompt);
  input.setRawMode?.(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = () => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      io.err.write('\n');
    };
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new Error('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    input.on('data', onData);
  });
}

function fail(io: UserIo, message: string): number {
  io.err.write(`sealpost user: ${message}\n`);
  return 1;
}
