// The local courier: delivers a job's recipients (our mailboxes) into their Maildirs, adding
// Return-Path and Delivered-To; mail rspamd tagged goes to the Junk folder with junkFolder. Every file-system failure is transient: the message stays queued.
import { bodyHead, bodySize, isSpooled } from '../core/body.ts';
import type { Courier, DeliveryJob, Outcome } from '../core/delivery.ts';
import { folderFor } from './junk.ts';
import { createMaildirWriter, type MaildirWrite, maildirPath } from './maildir.ts';

export interface LocalCourierDeps {
  /** <data_dir>/mail */
  mailRoot: string;
  hostname: string;
  /** The Maildir writer (the daemon's runs in the offload thread, src/offload); default: in this thread. */
  write?: MaildirWrite;
  /** [inbound.rspamd] junk_folder: a message whose first X-Spam field says Yes goes to the mailbox's .Junk/. */
  junkFolder?: boolean;
}

export function createLocalCourier(deps: LocalCourierDeps): Courier {
  const write = deps.write ?? createMaildirWriter();
  return {
    async deliver(job: DeliveryJob): Promise<Map<number, Outcome>> {
      const outcomes = new Map<number, Outcome>();
      for (const r of job.recipients) {
        const trace = Buffer.from(`Return-Path: <${job.sender}>\r\nDelivered-To: ${r.address}\r\n`);
        const size = trace.length + bodySize(job.body);
        // Unique per message and recipient, stable across retries (so a retry cannot duplicate).
        const name = `${Math.floor(job.receivedAt / 1000)}.${job.queueId}_${r.id}.${deps.hostname},S=${size}`;
        const dir = folderFor(maildirPath(deps.mailRoot, r.address), bodyHead(job.body), deps.junkFolder === true);
        try {
          // A spooled body goes as its prefix and its file: the writer copies the file in chunks.
          const body = job.body;
          const parts = isSpooled(body) ? [trace, body.prefix, { file: body.file, start: body.offset }] : [trace, body];
          const result = await write(dir, name, parts);
          outcomes.set(r.id, { kind: 'delivered', detail: `maildir ${dir}${result === 'exists' ? ' (already there)' : ''}` });
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          const enhanced = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? '4.3.1' : '4.3.0';
          outcomes.set(r.id, { kind: 'transient', enhanced, reason: `cannot write to ${dir}: ${e.code ?? ''} ${e.message}`.trim() });
        }
      }
      return outcomes;
    },
  };
}
