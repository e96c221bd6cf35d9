// `sealpost send --config FILE [-f SENDER] RCPT...`: queues the message on standard input, like
// sendmail for local programs (cron, scripts). Adds Received, From/Date/Message-ID when missing,
// and a DKIM signature when the From: domain has a key.
// Exit 0 once the message is committed to the queue; the daemon delivers it.
import os from 'node:os';
import { rfc5322Date } from '../core/date.ts';
import { prepareOutgoing } from '../auth/submission.ts';
import { loadDkimKeys } from '../dkim/keys.ts';
import { createDkimSigner } from '../dkim/signer.ts';
import { checkNewlines, hasEightBit } from '../message/body.ts';
import { buildDirectory, decideRecipient } from '../routing/recipients.ts';
import { newQueueId } from '../queue/ids.ts';
import type { NewRecipient } from '../queue/message.ts';
import { QueueStore } from '../queue/store.ts';
import { requestWake } from '../queue/wake.ts';
import type { Args } from './args.ts';
import { openForCli } from './open.ts';

export async function run(configFile: string, args: Args, input: NodeJS.ReadableStream = process.stdin, out = process.stdout, err = process.stderr): Promise<number> {
  const rcpts = args.words.slice(1);
  if (rcpts.length === 0) {
    err.write('sealpost send: name at least one recipient: sealpost send --config FILE -f SENDER RCPT... < message\n');
    return 2;
  }
  const opened = await openForCli(configFile, err);
  if (!opened) return 1;
  const { config, db } = opened;
  try {
    const sender = args.values.get('f') ?? `${os.userInfo().username}@${config.hostname}`;
    const directory = buildDirectory(config.domains);
    const recipients: NewRecipient[] = [];
    for (const rcpt of rcpts) {
      // A local program is trusted like a relay client: it may send anywhere.
      const d = decideRecipient(rcpt, directory, true);
      if (d.kind === 'reject') {
        err.write(`sealpost send: ${rcpt}: ${d.text}; nothing was queued\n`);
        return 1;
      }
      recipients.push(d.kind === 'local' ? { rcpt, address: d.mailbox, transport: 'local' } : { rcpt, address: d.address, transport: 'remote' });
    }
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    const raw = Buffer.concat(chunks);
    if (raw.length > config.limits.messageSize) {
      err.write(`sealpost send: the message has ${raw.length} bytes, more than limits.message_size (${config.limits.messageSize}); nothing was queued\n`);
      return 1;
    }
    // Local programs write LF line ends: always normalize to CRLF here.
    const checked = checkNewlines(raw, 'normalize');
    const now = Date.now();
    const id = newQueueId(now);
    // The same preparation as mail from a trusted client: From/Date/Message-ID when missing, DKIM.
    const prepared = await prepareOutgoing(
      { user: undefined, sender, body: checked.ok ? checked.body : raw, queueId: id, now, directory },
      { signer: createDkimSigner(await loadDkimKeys(config.dataDir, config.dkim)), hostname: config.hostname },
    );
    if (!prepared.ok) {
      err.write(`sealpost send: ${prepared.text}; nothing was queued\n`);
      return 1;
    }
    const text = prepared.body;
    const headerEnd = text.indexOf('\r\n\r\n');
    const header = (headerEnd < 0 ? text : text.subarray(0, headerEnd)).toString('latin1');
    const received = `Received: by ${config.hostname} (Sealpost, from userid ${os.userInfo().uid})\r\n\tid ${id}; ${rfc5322Date(now)}\r\n`;
    const body = Buffer.concat([Buffer.from(received + prepared.signature), text]);
    const messageId = /^message-id:\s*(.*)$/im.exec(header)?.[1]?.trim();
    await new QueueStore(db, config.queue).enqueue({
      id,
      receivedAt: now,
      sender,
      body,
      smtputf8: /[^\x00-\x7f]/.test(sender + recipients.map((r) => r.address).join('')),
      eightBit: hasEightBit(text),
      origin: 'local',
      ...(messageId ? { headerMessageId: messageId } : {}),
      subject: /^subject:\s*(.*)$/im.exec(header)?.[1]?.trim(),
      recipients,
    });
    await requestWake(config.dataDir);
    out.write(`queued as ${id}\n`);
    return 0;
  } finally {
    db.close();
  }
}
