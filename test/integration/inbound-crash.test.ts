// Durability: a load from parallel Python smtplib clients, kill -9 of the daemon mid-way, a
// restart, and every message that got a 250 is in a Maildir (at least once). And a graceful stop:
// SIGTERM lets a client in the middle of DATA finish (250) within the grace period, tells an idle
// client 421, refuses new connections, and the daemon exits 0 with nothing lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, queueList } from './inbound-smtp.ts';

const CLIENTS = 4;
const PER_CLIENT = 50;
const KILL_AFTER_ACKS = 60;

// Each thread sends its messages, a new connection every 10 messages or after an error, and
// prints "ACK <subject>" only after the server's 250 for that message. A message whose 250 never
// came is sent again (so it may arrive twice: delivery is at least once). Gives up after 60 s.
const LOAD = `
import smtplib, sys, threading, time
from email.message import EmailMessage
port, clients, per_client = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
lock = threading.Lock()
def say(line):
    with lock:
        sys.stdout.write(line + "\\n")
        sys.stdout.flush()
def client(c):
    deadline = time.time() + 60
    s = None
    sent_on_conn = 0
    for i in range(per_client):
        subject = "crash %d-%03d" % (c, i)
        msg = EmailMessage()
        msg["From"] = "load%d@remote.test" % c
        msg["To"] = "alice@example.test" if i % 2 == 0 else "bob@example.test"
        msg["Subject"] = subject
        msg.set_content("load message %s\\n" % subject + "x" * 2000 + "\\n")
        while True:
            if time.time() > deadline:
                say("GIVEUP " + subject)
                return
            try:
                if s is None or sent_on_conn >= 10:
                    if s is not None:
                        try: s.quit()
                        except Exception: pass
                    s = smtplib.SMTP("127.0.0.1", port, local_hostname="load%d.client.test" % c, timeout=10)
                    sent_on_conn = 0
                s.send_message(msg)
                sent_on_conn += 1
                say("ACK " + subject)
                break
            except Exception as e:
                say("ERR %s %s" % (subject, type(e).__name__))
                try: s.close()
                except Exception: pass
                s = None
                time.sleep(0.05)
    if s is not None:
        try: s.quit()
        except Exception: pass
threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
say("DONE")
`;

test(`kill -9 under load: every message acknowledged with 250 is delivered (${CLIENTS}×${PER_CLIENT})`, { timeout: 120_000 }, async (t) => {
  const daemon = await startSealpost(t);
  const acked = new Set<string>();
  const errors: string[] = [];
  let killed: Promise<unknown> | undefined;
  let ackedBeforeKill = 0;

  const load = spawn('python3', ['-c', LOAD, String(daemon.smtpPort), String(CLIENTS), String(PER_CLIENT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (load.exitCode === null) load.kill('SIGKILL');
  });
  let stderr = '';
  load.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => load.once('exit', (code) => resolve(code)));
  createInterface({ input: load.stdout }).on('line', (line) => {
    if (line.startsWith('ACK ')) acked.add(line.slice(4));
    else if (line.startsWith('ERR ') || line.startsWith('GIVEUP ')) errors.push(line);
    if (killed === undefined && acked.size >= KILL_AFTER_ACKS) {
      ackedBeforeKill = acked.size;
      // Mid-way: clients are in every stage of their transactions, deliveries are in flight.
      killed = daemon.kill9().then(() => daemon.restart());
    }
  });

  const code = await exited;
  assert.ok(killed, `the load finished before ${KILL_AFTER_ACKS} acknowledgements`);
  await killed;
  assert.equal(code, 0, stderr);
  assert.ok(ackedBeforeKill < CLIENTS * PER_CLIENT, 'the kill came before the load was over');
  assert.ok(errors.length > 0, 'the clients noticed the crash');
  assert.ok(!errors.some((e) => e.startsWith('GIVEUP')), errors.join('\n'));
  // Every message was acknowledged in the end (after the restart for some).
  assert.equal(acked.size, CLIENTS * PER_CLIENT);

  // Every acknowledged message reaches a Maildir, at least once.
  let missing: string[] = [];
  await waitFor(
    async () => {
      const delivered = new Set(
        [...(await daemon.readMaildir('example.test', 'alice')), ...(await daemon.readMaildir('example.test', 'bob'))].map((m) => m.subject),
      );
      missing = [...acked].filter((s) => !delivered.has(s));
      return missing.length === 0;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: `every acknowledged message in a Maildir (missing: ${missing.slice(0, 10).join(', ')})` },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; missing ${missing.length}: ${missing.slice(0, 20).join(', ')}`);
  });
  await waitFor(async () => (await queueList(daemon)).length === 0, { timeoutMs: 20_000, what: 'an empty queue' });
  // Each in the right mailbox.
  for (const m of await daemon.readMaildir('example.test', 'bob')) assert.equal(Number(m.subject?.slice(-3)) % 2, 1, m.subject);
  // A delivery cut short by the kill is redone after the restart without a second copy (the
  // Maildir file name is fixed per queue id and recipient): only a message the client had to send
  // again (it never saw the 250) may be there twice.
  const resent = new Set(errors.filter((e) => e.startsWith('ERR ')).map((e) => e.slice(4, e.lastIndexOf(' '))));
  const seen = new Map<string, number>();
  for (const m of [...(await daemon.readMaildir('example.test', 'alice')), ...(await daemon.readMaildir('example.test', 'bob'))]) {
    seen.set(m.subject ?? '', (seen.get(m.subject ?? '') ?? 0) + 1);
  }
  for (const [subject, copies] of seen) {
    if (copies > 1) assert.ok(resent.has(subject), `${subject}: ${copies} copies, but the client sent it once`);
  }
});

test('SIGTERM: DATA in progress finishes with 250, idle sessions get 421, exit 0', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { shutdown: { grace_s: 10 } } });
  const port = daemon.smtpPort;

  const busy = await connectSmtp(port);
  const idle = await connectSmtp(port);
  t.after(() => {
    busy.destroy();
    idle.destroy();
  });
  for (const c of [busy, idle]) {
    assert.equal((await c.reply()).code, 220);
    assert.equal((await c.command('EHLO term.client.test')).code, 250);
  }
  assert.equal((await busy.command('MAIL FROM:<carol@remote.test>')).code, 250);
  assert.equal((await busy.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await busy.command('DATA')).code, 354);
  busy.write('Subject: finished during shutdown\r\n\r\nfirst half\r\n');

  const sigtermAt = Date.now();
  const stopping = daemon.stop(20_000);
  // The idle session is told at once, and closed.
  const bye = await idle.reply(5_000);
  assert.equal(bye.code, 421, bye.text);
  assert.match(bye.text, /shutting down/i);
  await idle.closed(5_000);
  // No new connections while stopping.
  await assert.rejects(connectSmtp(port), /ECONNREFUSED/);

  // The busy client sends the rest of its message and gets its 250.
  busy.write('second half\r\n.\r\n');
  const done = await busy.reply(5_000);
  assert.equal(done.code, 250, done.text);
  const queueId = /queued as (\S+)/.exec(done.text)?.[1];
  assert.ok(queueId, done.text);

  // Then it is told the server is going away, rather than kept until the grace period ends.
  const after = await busy.reply(5_000);
  assert.equal(after.code, 421, after.text);
  await busy.closed(5_000);

  const exit = await stopping;
  assert.deepEqual(exit, { code: 0, signal: null }, daemon.stderr());
  const stopped = Date.now() - sigtermAt;
  assert.ok(stopped < 8_000, `stopped ${stopped} ms after SIGTERM, before the 10 s grace period ran out`);
  assert.ok(daemon.findLogs({ event: 'daemon', state: 'stopped' }).length === 1);

  // The acknowledged message is delivered (before the stop, or after the next start).
  await daemon.restart();
  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(message?.subject, 'finished during shutdown');
  assert.match(message?.raw ?? '', /first half\r\nsecond half\r\n$/);
  assert.match(message?.raw ?? '', new RegExp(`id ${queueId}`));
});
