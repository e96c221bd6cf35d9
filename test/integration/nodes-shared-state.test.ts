// Two Sealpost nodes (127.0.0.11 and 127.0.0.12) sharing one PostgreSQL: the state that is not the
// queue is shared too (src/shared-state/stores.ts). A submission user added with `sealpost user
// add` on node A authenticates on node B's port 587 (swaks AUTH PLAIN after STARTTLS); a deferred
// delivery's attempts, made by node A, show in `sealpost queue show` run with node B's config.
// Loopback only (netless), needs root (postgres).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Overrides, SealpostToml } from '../helpers/daemon.ts';
import { startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { swaks, swaksSend } from '../helpers/swaks.ts';
import { waitFor } from '../helpers/wait.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

test('two nodes on one PostgreSQL share the submission users and the attempts', { timeout: 240_000 }, async (t) => {
  assert.ok(server);
  const submissionPort = await freePort('127.0.0.12');
  // remote.test goes to a port where nothing listens: each attempt is deferred (connection refused).
  const deadPort = await freePort('127.0.0.71');
  const cluster = await startNodes(t, server, {
    count: 2,
    config: {
      store: { allow_local_maildir: true },
      outbound: { transport: { 'remote.test': `smtp:[127.0.0.71]:${deadPort}` } },
      queue: { min_backoff: '1h', max_backoff: '2h' },
    },
    // listen.submission is not in the helper's SealpostToml type (the daemon reads it as any key).
    perNode: (i) => (i === 1 ? ({ listen: { submission: [`127.0.0.12:${submissionPort}`] } } as unknown as Overrides<SealpostToml>) : {}),
  });
  const [a, b] = cluster.nodes;
  assert.ok(a && b);
  const authOnB = (password: string) =>
    swaks([
      '--server',
      `127.0.0.12:${submissionPort}`,
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      'alice@example.test',
      '--auth-password',
      password,
      '--from',
      'alice@example.test',
      '--to',
      'bob@example.test',
      '--timeout',
      '15',
    ]);
  assert.equal((await authOnB('alice-password-1')).code, 28, 'no such user yet: AUTH fails');

  const added = await a.cli(['user', 'add', 'alice@example.test'], 'alice-password-1\n');
  assert.equal(added.code, 0, added.stderr);
  const sent = await authOnB('alice-password-1');
  assert.equal(sent.code, 0, `node B authenticates the user node A added: ${sent.stdout.slice(-600)}`);
  await b.waitForLog({ event: 'auth', result: 'ok', user: 'alice@example.test' });
  assert.equal((await authOnB('wrong-password')).code, 28, 'and checks the password');
  const listed = await b.cli(['user', 'list', '--json']);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { address: string }[]).map((u) => u.address),
    ['alice@example.test'],
    'node B lists it',
  );

  // Node B stops: node A alone makes the attempts of the next message.
  await b.stop();
  const relayed = await swaksSend({ host: '127.0.0.11', port: a.smtpPort, from: 'alice@example.test', to: ['someone@remote.test'], subject: 'deferred' });
  assert.equal(relayed.code, 0, relayed.stdout);
  const queueId = /queued as (\S+)/.exec(relayed.stdout)?.[1];
  assert.ok(queueId, relayed.stdout);
  await a.waitForLog({ event: 'deferred', queueId }, { timeoutMs: 60_000 });
  const shown = await waitFor(
    async () => {
      const r = await b.cli(['queue', 'show', queueId, '--json']);
      const attempts = r.code === 0 ? (JSON.parse(r.stdout) as { attempts: { ip: string; port: number; result: string }[] }).attempts : [];
      return attempts.length > 0 ? attempts : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: "node A's attempt in node B's queue show" },
  );
  assert.deepEqual(
    shown.map((x) => [x.ip, x.port, x.result]),
    [['127.0.0.71', deadPort, 'transient']],
  );
  const text = await b.cli(['queue', 'show', queueId]);
  assert.match(text.stdout, /127\.0\.0\.71/, text.stdout + text.stderr);
  // status with node B's config lists node A's failed attempt among the last delivery errors.
  const status = await b.cli(['status', '--json']);
  const errors = (JSON.parse(status.stdout) as { lastErrors: { queueId: string; to: string; host?: string }[] }).lastErrors;
  assert.deepEqual(
    errors.filter((e) => e.queueId === queueId).map((e) => [e.to, e.host]),
    [['remote.test', `127.0.0.71[127.0.0.71]:${deadPort}`]],
    status.stdout.slice(0, 2000),
  );
});
