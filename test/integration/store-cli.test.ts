// [store] kind = "postgres" as a new user meets it: `config check` and `start` refuse Maildir
// delivery and name the fix; `start` refuses a database without the schema and one that does not
// answer, saying what to do; `sealpost store init` creates the schema on a real PostgreSQL (once),
// `sealpost store status` shows the nodes, their claims and the queue; a wrong password is
// reported with the fix and never printed.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { NewMessage } from '../../src/queue/message.ts';
import { MIGRATIONS } from '../../src/queue/pg/schema.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { run } from '../helpers/proc.ts';
import { pgQueueAt } from '../helpers/queue-stores.ts';
import { mergeConfig, testDefaults, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';

const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const sealpost = (args: string[]) => run(SEALPOST, args, { timeoutMs: 60_000 });

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

async function configWith(dir: string, store: Record<string, string | boolean>): Promise<string> {
  const file = path.join(dir, 'sealpost.toml');
  await writeSealpostConfig(file, mergeConfig(testDefaults(path.join(dir, 'data'), { smtp: await freePort(), acmeHttp: await freePort() }), { store }));
  return file;
}

test('config check and start refuse kind = "postgres" with Maildir delivery, naming the fix; store init and status work on it', {
  timeout: 180_000,
}, async (t) => {
  assert.ok(server);
  const dir = await tempDir(t);
  const url = await server.createDatabase('cli');
  const file = await configWith(dir, { kind: 'postgres', url, password_file: server.passwordFile, node: 'mx1' });

  const check = await sealpost(['config', 'check', '--config', file]);
  assert.equal(check.code, 1, check.stderr);
  assert.match(check.stderr, /domain\[0\]\.delivery: is Maildir \(the default\), but with \[store\] kind = "postgres" any node may deliver it/);
  assert.match(check.stderr, /delivery = "lmtp:HOST:PORT"[\s\S]*allow_local_maildir = true/);
  const start = await sealpost(['start', '--config', file]);
  assert.equal(start.code, 1);
  assert.match(start.stderr, /domain\[0\]\.delivery: is Maildir[\s\S]*sealpost: not started/);
  const allowed = await configWith(dir, { kind: 'postgres', url, password_file: server.passwordFile, node: 'mx1', allow_local_maildir: true });
  const checkAllowed = await sealpost(['config', 'check', '--config', allowed]);
  assert.equal(checkAllowed.code, 0, checkAllowed.stderr);

  const before = await sealpost(['store', 'status', '--config', file]);
  assert.equal(before.code, 1);
  assert.match(before.stderr, /no Sealpost schema yet; create it with: sealpost store init/);
  const init = await sealpost(['store', 'init', '--config', file]);
  assert.equal(init.code, 0, init.stderr);
  const versions = MIGRATIONS.map((_, i) => i + 1);
  assert.match(
    init.stdout,
    new RegExp(`^postgres://sealpost@127\\.0\\.0\\.1:\\d+/cli: schema at version ${MIGRATIONS.length} \\(applied ${versions.join(', ')}\\)$`, 'm'),
  );
  const again = await sealpost(['store', 'init', '--config', file]);
  assert.match(again.stdout, new RegExp(`schema at version ${MIGRATIONS.length} \\(already current\\)`));

  // A node at work: one message claimed by mx1, one waiting.
  const node = await pgQueueAt(t, { url, passwordFile: server.passwordFile }).open({ node: 'mx1' });
  const message = (id: string): NewMessage => ({
    id,
    receivedAt: Date.now(),
    sender: 'a@remote.test',
    body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    recipients: [{ rcpt: 'b@example.test', address: 'b@example.test', transport: 'local' }],
  });
  await node.enqueue(message('S1'));
  await node.enqueue(message('S2'));
  assert.equal((await node.claim('local', Date.now(), 1)).length, 1);
  const status = await sealpost(['store', 'status', '--config', file]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, new RegExp(`schema version ${MIGRATIONS.length}\n`));
  assert.match(status.stdout, /queue: 2 messages; recipients 1 queued, 1 active, 0 held/);
  assert.match(status.stdout, /nodes: 1\n {2}mx1: heartbeat \d+s ago, 1 claim, first lease ends \d{4}-/);
  const json = JSON.parse((await sealpost(['store', 'status', '--config', file, '--json'])).stdout) as { nodes: { name: string; claims: number }[] };
  assert.deepEqual(
    json.nodes.map((n) => [n.name, n.claims]),
    [['mx1', 1]],
  );

  // A wrong password: the error names what to check, and no password is printed.
  const wrong = path.join(dir, 'wrong.pass');
  await writeFile(wrong, 'not-the-password\n');
  await chmod(wrong, 0o600);
  const wrongConfig = await configWith(await tempDir(t), { kind: 'postgres', url, password_file: wrong });
  const bad = await sealpost(['store', 'status', '--config', wrongConfig]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /password authentication failed[\s\S]*check store\.url, the password \(store\.password_file or PGPASSFILE\)/);
  assert.ok(!bad.stderr.includes('not-the-password') && !bad.stderr.includes(server.password), 'no password in the output');
  // A password file others can read is refused before any connection.
  await chmod(wrong, 0o644);
  const open = await sealpost(['store', 'status', '--config', wrongConfig]);
  assert.equal(open.code, 1);
  assert.match(open.stderr, /store\.password_file: .* is readable by others \(mode 0644\)/);
});

test('start on PostgreSQL: a database without the schema is refused naming store init, a server that does not answer naming what to check', {
  timeout: 120_000,
}, async (t) => {
  assert.ok(server);
  const dir = await tempDir(t);
  const url = await server.createDatabase('bare');
  const file = await configWith(dir, { kind: 'postgres', url, password_file: server.passwordFile, node: 'mx1', allow_local_maildir: true });
  const bare = await sealpost(['start', '--config', file]);
  assert.equal(bare.code, 1, bare.stdout);
  assert.match(bare.stdout, /cannot start: the PostgreSQL queue's schema is at version 0, this Sealpost needs \d+: run sealpost store init/);
  const closed = await freePort();
  const nowhere = await configWith(await tempDir(t), {
    kind: 'postgres',
    url: `postgres://sealpost@127.0.0.1:${closed}/sealpost`,
    password_file: server.passwordFile,
    allow_local_maildir: true,
  });
  const down = await sealpost(['start', '--config', nowhere]);
  assert.equal(down.code, 1, down.stdout);
  assert.match(
    down.stdout,
    new RegExp(
      `cannot start: the PostgreSQL queue at postgres://sealpost@127\\.0\\.0\\.1:${closed}/sealpost does not answer \\(.*ECONNREFUSED.*\\): check store\\.url`,
    ),
  );
});
