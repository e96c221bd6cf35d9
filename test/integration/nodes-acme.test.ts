// Two Sealpost daemons (127.0.0.11 and 127.0.0.12) on one PostgreSQL, end to end as an operator
// runs them, against a real Pebble: exactly one node orders the certificate (the renewer lock's
// holder), the HTTP-01 validation reaches the other node and is answered there, both nodes serve
// the certificate on their SMTP STARTTLS (openssl s_client -servername), a forced renewal on one
// reaches the other within seconds; a DKIM key made (sealpost dkim keygen) through one node
// signs the mail the other node sends, without a restart; the renewing node killed, the other
// takes the lock over and renews.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import pg from 'pg';
import { dkimKeyPath, dkimRecord, generateDkimKey, writeNewKey } from '../../src/dkim/keys.ts';
import { clientConfig } from '../../src/queue/pg/connect.ts';
import { ACME_LOCK, sessionLock } from '../../src/shared-files/lock.ts';
import { withFileWriter } from '../../src/shared-files/node.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { readMaildir } from '../helpers/maildir.ts';
import { sharedQueueDatabase } from '../helpers/nodes.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { run } from '../helpers/proc.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

// The MX name both nodes answer for (and their hostname): one certificate for every node.
const HOST = 'mx.example.test';
const IP = ['127.0.0.11', '127.0.0.12'] as const;

/** openssl s_client -starttls smtp -servername HOST: whether it verifies against `caFile`, and the leaf. */
async function served(host: string, port: number, caFile: string): Promise<{ ok: boolean; leaf: X509Certificate }> {
  const result = await run(
    'openssl',
    ['s_client', '-starttls', 'smtp', '-connect', `${host}:${port}`, '-servername', HOST, '-verify_return_error', '-CAfile', caFile],
    { input: 'QUIT\r\n', timeoutMs: 15_000 },
  );
  const output = result.stdout + result.stderr;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
  assert.ok(pem, `s_client printed no certificate:\n${output}`);
  return { ok: result.code === 0 && /Verify return code: 0 \(ok\)/.test(output), leaf: new X509Certificate(pem) };
}

describe('two nodes on one PostgreSQL: ACME and DKIM shared', { timeout: 300_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.unshift(fn) };
  let postgres: Postgres;
  let pebble: Pebble;
  let url: string;
  let rootFile: string;
  let httpPort: number;
  let first: SealpostDaemon;
  let second: SealpostDaemon;
  let signKey = '';

  const startNode = async (i: 0 | 1): Promise<SealpostDaemon> => {
    const ip = IP[i];
    return startSealpost(scope, {
      config: {
        hostname: HOST,
        // Pebble's validation goes to 127.0.0.12 (node 2) at httpPort; node 1's responder is never asked.
        listen: { smtp: [`${ip}:${await freePort(ip)}`], acme_http: [`${ip}:${i === 1 ? httpPort : await freePort(ip)}`] },
        acme: { enabled: true, directory: pebble.directoryUrl, email: 'postmaster@example.test', ca_file: pebble.httpsCaFile },
        relay: { networks: ['127.0.0.0/8'] },
        domain: [{ name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' }, dkim_selectors: ['s1'] }],
        store: { kind: 'postgres', url, password_file: postgres.passwordFile, node: `node${i + 1}`, lease: '6s', allow_local_maildir: true },
      },
      startTimeoutMs: 30_000,
    });
  };

  before(async () => {
    postgres = await startPostgres(scope);
    url = await sharedQueueDatabase(postgres, 'nodes_acme');
    httpPort = await freePort(IP[1]);
    pebble = await startPebble(scope, { httpPort, answerIp: IP[1] });
    const dir = await tempDir(scope);
    rootFile = path.join(dir, 'pebble-root.pem');
    await writeFile(rootFile, await pebble.rootPem());
    // The DKIM key both nodes list, in the database before either starts (as `sealpost store migrate` leaves it).
    signKey = generateDkimKey('ed25519');
    const store = { kind: 'postgres' as const, url, passwordFile: postgres.passwordFile, node: 'setup', leaseMs: 6000 };
    await withFileWriter(store, dir, (files) => writeNewKey(dkimKeyPath(dir, 'example.test', 's1'), signKey, false, files));
  });

  after(async () => {
    for (const fn of cleanups) await fn();
  });

  it('exactly one node orders; both serve the certificate; a renewal on one reaches the other within seconds', async () => {
    // Node 2 starts while the renewer lock is taken (here), so node 1, started once it is free, is the one that orders.
    const blocker = sessionLock(() => new pg.Client(clientConfig({ url, passwordFile: postgres.passwordFile })), ACME_LOCK);
    assert.equal(await blocker.held(), true);
    second = await startNode(1);
    await second.waitForLog({ event: 'cert', action: 'standby' }, { timeoutMs: 15_000 });
    await blocker.close();
    first = await startNode(0);
    await first.waitForLog({ event: 'cert', action: 'issued' }, { timeoutMs: 90_000 });
    await second.waitForLog({ event: 'cert', action: 'loaded' }, { timeoutMs: 15_000 });

    const one = await served(IP[0], first.smtpPort, rootFile);
    const two = await served(IP[1], second.smtpPort, rootFile);
    assert.ok(one.ok && two.ok, "both verify against Pebble's root");
    assert.equal(one.leaf.serialNumber, two.leaf.serialNumber, 'the same certificate on both nodes');
    assert.ok(one.leaf.checkHost(HOST));
    assert.equal(first.findLogs({ event: 'cert', action: 'ordering' }).length, 1, 'node 1 ordered once');
    assert.equal(second.findLogs({ event: 'cert', action: 'ordering' }).length, 0, 'node 2 never ordered');
    assert.ok(second.findLogs({ event: 'cert', action: 'challenge-served' }).length > 0, "Pebble's validation reached node 2, which answered it");
    assert.equal(first.findLogs({ event: 'cert', action: 'challenge-served' }).length, 0);

    // A forced renewal through node 1 (the holder): node 2 serves it within seconds of the commit.
    const renewal = await first.cli(['certs', 'renew', '--force']);
    assert.equal(renewal.code, 0, renewal.stdout + renewal.stderr);
    const committed = Date.now();
    const renewed = (await served(IP[0], first.smtpPort, rootFile)).leaf.serialNumber;
    assert.notEqual(renewed, one.leaf.serialNumber);
    await waitFor(async () => (await served(IP[1], second.smtpPort, rootFile)).leaf.serialNumber === renewed, {
      what: 'node 2 to serve the renewed certificate',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    const lag = Date.now() - committed;
    process.stdout.write(`# node 2 served the renewal ${lag} ms after node 1's certs renew returned\n`);
    assert.ok(lag < 5000, `${lag} ms`);
    assert.equal(second.findLogs({ event: 'cert', action: 'ordering' }).length, 0, 'still no order from node 2');
    // Node 2 refuses to order while node 1 holds the lock.
    const refused = await second.cli(['certs', 'renew', '--force']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /another node holds the ACME renewer lock/);
  });

  it('a DKIM key made through node 1 signs the mail node 2 sends, without a restart', async () => {
    assert.ok(first && second, 'the first test started both nodes');
    const verify = async (raw: string, pem: string) => {
      const resolver = async (name: string) => {
        if (name === 's1._domainkey.example.test') return [[dkimRecord(pem)]];
        throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
      };
      return (await dkimVerify(Buffer.from(raw), { resolver })).results.map((r) => r.status.result);
    };
    const sendThroughNode2 = async (subject: string): Promise<string> => {
      const sent = await swaksSend({ host: IP[1], port: second.smtpPort, from: 'bob@example.test', to: ['alice@example.test'], subject });
      assert.equal(sent.code, 0, sent.stdout);
      // Delivered by whichever node claimed it, into that node's Maildir.
      const message = await waitFor(
        async () =>
          [...(await readMaildir(first.dataDir, 'example.test', 'alice')), ...(await readMaildir(second.dataDir, 'example.test', 'alice'))].find(
            (m) => m.subject === subject,
          ),
        { what: `the message "${subject}"`, timeoutMs: 20_000 },
      );
      return message.raw;
    };
    // The key synced at start signs.
    assert.deepEqual(await verify(await sendThroughNode2('before the rotation'), signKey), ['pass']);

    // Rotated through node 1's CLI: in PostgreSQL, on node 2's disk, signing there within seconds.
    const since = second.logs().length;
    const made = await first.cli(['dkim', 'keygen', '--domain', 'example.test', '--selector', 's1', '--type', 'ed25519', '--force']);
    assert.equal(made.code, 0, made.stdout + made.stderr);
    assert.match(made.stdout, /Stored in PostgreSQL too/);
    await second.waitForLog({ event: 'daemon', state: 'dkim-reloaded' }, { since, timeoutMs: 10_000 });
    const rotated = await readFile(dkimKeyPath(first.dataDir, 'example.test', 's1'), 'utf8');
    assert.notEqual(rotated, signKey);
    assert.equal(await readFile(dkimKeyPath(second.dataDir, 'example.test', 's1'), 'utf8'), rotated, 'the same key file on node 2');
    assert.deepEqual(await verify(await sendThroughNode2('after the rotation'), rotated), ['pass'], 'signed on node 2 with the key made on node 1');
  });

  it('when the renewing node dies (kill -9), its lock goes with its session and the other node renews', async () => {
    assert.ok(first && second, 'the first test started both nodes');
    const before = (await served(IP[1], second.smtpPort, rootFile)).leaf.serialNumber;
    await first.kill9();
    const renewal = await waitFor(
      async () => {
        const r = await second.cli(['certs', 'renew', '--force']);
        return r.code === 0 ? r : undefined;
      },
      { what: 'node 2 to take the lock over and renew', timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.match(renewal.stdout, /issued certificate/);
    assert.ok(second.findLogs({ event: 'cert', action: 'renewer' }).length > 0, 'node 2 logged that it renews now');
    assert.notEqual((await served(IP[1], second.smtpPort, rootFile)).leaf.serialNumber, before);
  });
});
