// A real Dovecot (Debian dovecot-lmtpd, dovecot-imapd) as a test peer: LMTP on a unix socket and
// on a loopback TCP port, IMAP on loopback, Maildirs under its own temp dir, users from a
// passwd-file (one may have a tiny quota). With `mailRoot` it serves a Maildir tree it did not
// make (Sealpost's data_dir/mail) instead; shareMaildirs hands such a tree to the dovecot user,
// as an operator runs Dovecot's mail processes as the Maildirs' owner. Side effects: a temp dir and a `dovecot -F` child,
// stopped and removed when the scope ends. Needs root (mail is stored as the dovecot user).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, chown, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type MaildirMessage, readMaildirAt } from './maildir.ts';
import { freePort } from './ports.ts';
import { run } from './proc.ts';
import { makeTempDir, removeTempDir, type Scope } from './tmp.ts';
import { waitForPort } from './wait.ts';

export interface DovecotUser {
  /** The full address: Dovecot's user name and the LMTP recipient. */
  address: string;
  /** A quota such as "1K": a message larger than that is refused at end of DATA (452 4.2.2). */
  quota?: string;
}

export interface Dovecot {
  readonly dir: string;
  /** The LMTP unix socket. */
  readonly socket: string;
  readonly lmtpPort: number;
  readonly imapPort: number;
  /** Dovecot's auth service for Postfix (smtpd_sasl_type = dovecot, smtpd_sasl_path = inet:127.0.0.1:PORT); 0 unless asked for. */
  readonly authPort: number;
  /** Every user's password (IMAP LOGIN, SASL). */
  readonly password: string;
  /** The Maildir Dovecot delivered into for this address (INBOX: new/ and cur/). */
  readMaildir(address: string): Promise<MaildirMessage[]>;
  /** Subjects in one of the user's folders (INBOX unless told), fetched over IMAP (python3 imaplib: a second, independent reader). */
  imapSubjects(address: string, folder?: string): Promise<string[]>;
  /** The user's folders as IMAP LIST shows them: name and attributes (e.g. "\\HasNoChildren \\Junk"). */
  imapFolders(address: string): Promise<{ name: string; attributes: string }[]>;
  /** SIGTERM and wait for the master to exit (its listeners are gone after that). */
  stop(): Promise<void>;
  /** Starts again on the same config and mail; waits for the listeners. */
  start(): Promise<void>;
  /** Dovecot's log so far. */
  log(): Promise<string>;
}

const PASSWORD = 'secret-test-password';

export interface DovecotOptions {
  /** Serve this Maildir tree (<root>/<domain>/<local part>, Maildir++ folders) instead of one of its own; the dovecot user must own it (shareMaildirs). */
  mailRoot?: string;
  /** Also serve the auth service on a loopback TCP port: SASL for a Postfix smtpd (authPort). */
  authListener?: boolean;
}

export async function startDovecot(scope: Scope, users: readonly DovecotUser[], options: DovecotOptions = {}): Promise<Dovecot> {
  const dir = await makeTempDir('sealpost-dovecot-');
  // The dovecot user (mail_uid) must reach the Maildirs: the temp dir is 0700 root otherwise.
  await chmod(dir, 0o755);
  const mail = options.mailRoot ?? path.join(dir, 'mail');
  if (!options.mailRoot) {
    await mkdir(mail);
    await chown(mail, ...(await ids('dovecot')));
  }
  const socket = path.join(dir, 'lmtp');
  const lmtpPort = await freePort();
  const imapPort = await freePort();
  const authPort = options.authListener ? await freePort() : 0;
  const usersFile = path.join(dir, 'users');
  // passwd-file: user:password:uid:gid:gecos:home:shell:extra fields (userdb_… per user).
  await writeFile(usersFile, users.map((u) => `${u.address}:{PLAIN}${PASSWORD}::::::${u.quota ? `userdb_quota_rule=*:storage=${u.quota}` : ''}\n`).join(''));
  const conf = path.join(dir, 'dovecot.conf');
  await writeFile(conf, dovecotConf({ dir, mail, socket, lmtpPort, imapPort, authPort, usersFile }));

  let child: ChildProcess | undefined;
  let exited: Promise<unknown> = Promise.resolve();
  const start = async (): Promise<void> => {
    const c = spawn('dovecot', ['-F', '-c', conf], { stdio: 'ignore' });
    child = c;
    exited = once(c, 'exit');
    await waitForPort('127.0.0.1', lmtpPort, 15_000);
    await waitForPort('127.0.0.1', imapPort, 15_000);
    if (authPort) await waitForPort('127.0.0.1', authPort, 15_000);
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGTERM');
    await exited;
  };
  await start();
  scope.after(async () => {
    await stop();
    await removeTempDir(dir);
  });

  const log = () => readFile(path.join(dir, 'dovecot.log'), 'utf8').catch(() => '');
  const maildirOf = (address: string): string => {
    const at = address.lastIndexOf('@');
    return path.join(mail, address.slice(at + 1), address.slice(0, at));
  };
  return {
    dir,
    socket,
    lmtpPort,
    imapPort,
    authPort,
    password: PASSWORD,
    readMaildir: (address) => readMaildirAt(maildirOf(address)),
    async imapSubjects(address, folder = 'INBOX') {
      const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.select(sys.argv[4], readonly=True)
if typ != 'OK': sys.exit('SELECT %s: %s' % (sys.argv[4], data))
typ, data = m.search(None, 'ALL')
for n in data[0].split():
    typ, parts = m.fetch(n, '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
    print(parts[0][1].decode().strip().removeprefix('Subject:').strip())
m.logout()
`;
      const result = await run('python3', ['-c', script, String(imapPort), address, PASSWORD, folder], { timeoutMs: 20_000 });
      if (result.code !== 0) throw new Error(`imaplib failed (${result.code}): ${result.stderr.slice(-300)}\nDovecot's log: ${(await log()).slice(-1500)}`);
      return result.stdout.split('\n').filter((l) => l !== '');
    },
    async imapFolders(address) {
      const script = `
import imaplib, sys
m = imaplib.IMAP4('127.0.0.1', int(sys.argv[1]))
m.login(sys.argv[2], sys.argv[3])
typ, data = m.list()
for line in data:
    print(line.decode())
m.logout()
`;
      const result = await run('python3', ['-c', script, String(imapPort), address, PASSWORD], { timeoutMs: 20_000 });
      if (result.code !== 0) throw new Error(`imaplib failed (${result.code}): ${result.stderr.slice(-300)}\nDovecot's log: ${(await log()).slice(-1500)}`);
      // (\\HasNoChildren \\Junk) "." Junk   or   ... "." "Name with spaces"
      return result.stdout
        .split('\n')
        .map((l) => /^\(([^)]*)\) (?:"[^"]*"|NIL) "?(.*?)"?$/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ name: m[2] ?? '', attributes: m[1] ?? '' }));
    },
    stop,
    start,
    log,
  };
}

/** The smallest config that serves LMTP and IMAP from a temp dir (Dovecot 2.3, Debian bookworm). */
function dovecotConf(p: { dir: string; mail: string; socket: string; lmtpPort: number; imapPort: number; authPort: number; usersFile: string }): string {
  // Postfix's dovecot SASL client speaks Dovecot's auth protocol to this listener (Dovecot 2.3 "service auth").
  const auth = p.authPort
    ? `service auth {
  inet_listener auth {
    address = 127.0.0.1
    port = ${p.authPort}
  }
}
`
    : '';
  return `# Written by test/helpers/dovecot.ts
base_dir = ${p.dir}/run
state_dir = ${p.dir}/state
log_path = ${p.dir}/dovecot.log
instance_name = sealpost-test-${path.basename(p.dir)}
protocols = lmtp imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Mail is stored as the dovecot system user (root may not own mail: first_valid_uid).
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
mail_location = maildir:${p.mail}/%d/%n
# Maildir++ .Junk/ is the Junk folder; special_use marks it \\Junk for clients (RFC 6154).
namespace inbox {
  inbox = yes
  mailbox Junk {
    special_use = \\Junk
  }
}
mail_plugins = quota
# A full mailbox is a temporary failure (452 4.2.2), not a bounce.
quota_full_tempfail = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${p.usersFile}
}
userdb {
  driver = passwd-file
  args = ${p.usersFile}
  default_fields = home=${p.mail}/%d/%n
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100M
}
service lmtp {
  unix_listener ${p.socket} {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${p.lmtpPort}
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${p.imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
${auth}`;
}

/**
 * Sealpost's Maildirs belong to the daemon's user, 0700; Dovecot refuses to read mail as root
 * ("Mail access not allowed for root"), so in production both run as one user (mail_uid =
 * sealpost). Tests run the daemon as root: the tree is handed to the dovecot user (mail_uid here)
 * and its parent directories made traversable (o+x) for it.
 */
export async function shareMaildirs(root: string): Promise<void> {
  const [uid, gid] = await ids('dovecot');
  const chowned = await run('chown', ['-R', `${uid}:${gid}`, root]);
  if (chowned.code !== 0) throw new Error(`chown -R ${root}: ${chowned.stderr}`);
  for (let dir = path.dirname(root); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const mode = (await stat(dir)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
  }
}

async function ids(user: string): Promise<[number, number]> {
  const uid = await run('id', ['-u', user]);
  const gid = await run('id', ['-g', user]);
  const pair: [number, number] = [Number(uid.stdout.trim()), Number(gid.stdout.trim())];
  if (uid.code !== 0 || gid.code !== 0 || !pair.every(Number.isInteger))
    throw new Error(`no "${user}" user: install dovecot-core (scripts/install-test-peers)`);
  return pair;
}
