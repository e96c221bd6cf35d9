// The local courier: delivers a job's recipients (our mailboxes) the way their domain says
// ([[domain]] delivery): into their Maildirs, adding Return-Path and Delivered-To (mail rspamd
// tagged into the Junk folder with junkFolder), or over LMTP (lmtp.ts), one transaction per LMTP
// server for the recipients it serves, on connections kept for the next message (lmtp-pool.ts).
// Every file-system failure is transient: the message stays queued.
import { deliveryName } from '../config/delivery.ts';
import type { LocalDelivery } from '../config/types.ts';
import { bodyHead, bodySize, isSpooled } from '../core/body.ts';
import type { Courier, DeliveryJob, JobRecipient, Outcome } from '../core/delivery.ts';
import { folderFor } from './junk.ts';
import type { LmtpOptions } from './lmtp.ts';
import { LmtpPool } from './lmtp-pool.ts';
import { createMaildirWriter, type MaildirWrite, maildirPath } from './maildir.ts';

export interface LocalCourierDeps {
  /** <data_dir>/mail */
  mailRoot: string;
  hostname: string;
  /** The Maildir writer (the daemon's runs in the writer threads, src/offload/writers.ts); default: in this thread. */
  write?: MaildirWrite;
  /** How a domain's mailboxes receive mail, read at each delivery (reload may change it); default: maildir. */
  delivery?: (domain: string) => LocalDelivery;
  /** LMTP timeouts; default: LMTP_TIMEOUTS. */
  lmtp?: Partial<Omit<LmtpOptions, 'hostname' | 'server'>>;
  /** [inbound.rspamd] junk_folder: a message whose first X-Spam field says Yes goes to the mailbox's .Junk/. */
  junkFolder?: boolean;
  /** [local] lmtp_concurrency: connections at once per LMTP server; default 10. */
  lmtpConcurrency?: number;
  /** How long an LMTP connection waits for the next message, ms; default LMTP_IDLE_MS. */
  lmtpIdleMs?: number;
}

/** Postfix's smtp_connection_cache_time_limit: long enough for the next message of a burst, short enough to hold no LMTP process for long. */
export const LMTP_IDLE_MS = 2000;

export type LocalCourier = Courier & { close(): Promise<void> };

/** A local LMTP server answers at once; the dot's replies wait for the delivery (Sieve, indexes). */
export const LMTP_TIMEOUTS = { connectTimeoutMs: 10_000, commandTimeoutMs: 60_000, dataTimeoutMs: 600_000 };

export function createLocalCourier(deps: LocalCourierDeps): LocalCourier {
  const write = deps.write ?? createMaildirWriter();
  const deliveryOf = deps.delivery ?? (() => ({ kind: 'maildir' }) as const);
  const timeouts = { ...LMTP_TIMEOUTS, ...deps.lmtp };
  const lmtp = new LmtpPool({ idleMs: deps.lmtpIdleMs ?? LMTP_IDLE_MS, concurrency: deps.lmtpConcurrency ?? 10, maxMessages: 100 });

  const toMaildir = async (job: DeliveryJob, r: JobRecipient): Promise<Outcome> => {
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
      return { kind: 'delivered', detail: `maildir ${dir}${result === 'exists' ? ' (already there)' : ''}` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const enhanced = e.code === 'ENOSPC' || e.code === 'EDQUOT' ? '4.3.1' : '4.3.0';
      return { kind: 'transient', enhanced, reason: `cannot write to ${dir}: ${e.code ?? ''} ${e.message}`.trim() };
    }
  };

  return {
    async deliver(job: DeliveryJob): Promise<Map<number, Outcome>> {
      const outcomes = new Map<number, Outcome>();
      // LMTP recipients by server, in job order: one transaction each.
      const byServer = new Map<string, { target: Exclude<LocalDelivery, { kind: 'maildir' }>; recipients: JobRecipient[] }>();
      for (const r of job.recipients) {
        const delivery = deliveryOf(r.address.slice(r.address.lastIndexOf('@') + 1).toLowerCase());
        if (delivery.kind === 'maildir') {
          outcomes.set(r.id, await toMaildir(job, r));
          continue;
        }
        const server = deliveryName(delivery);
        const batch = byServer.get(server) ?? { target: delivery, recipients: [] };
        batch.recipients.push(r);
        byServer.set(server, batch);
      }
      const sessions = [...byServer].map(([server, { target, recipients }]) =>
        lmtp.deliver(target, job, recipients, { hostname: deps.hostname, server, ...timeouts }),
      );
      for (const result of await Promise.all(sessions)) for (const [id, o] of result) outcomes.set(id, o);
      return outcomes;
    },
    /** QUITs the idle LMTP connections (at shutdown). */
    close: () => lmtp.close(),
  };
}
