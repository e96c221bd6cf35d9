// TLS reports received by mail (RFC 8460 §5.3): wraps the local courier so that a message
// delivered to a [[domain]] tlsrpt_rua mailbox is read after its delivery: every report part
// (application/tlsrpt+gzip or +json) is decoded, validated (parse.ts) and stored once
// (store.ts), one "tls-report" record each. The message stays in the mailbox whatever it holds:
// a malformed report is logged and kept as mail, and nothing here changes a delivery's outcome.
import { bodyChunks, bodySize } from '../core/body.ts';
import type { Courier, DeliveryJob, JobRecipient } from '../core/delivery.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { decodeReport, isReportPart } from './parse.ts';
import type { ReceivedReports } from './store.ts';

/** Messages larger than this are delivered but not read (a report mail is a few KiB of gzip). */
export const MAX_REPORT_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ReportIntakeDeps {
  store: Pick<ReceivedReports, 'add'>;
  /** The tlsrpt_rua mailboxes of ours ("tlsrpt@example.org"), as in force at each delivery. */
  mailboxes: () => ReadonlySet<string>;
  log: Logger;
  now: () => number;
}

/** `courier`, then the reports of what it delivered to a report mailbox. Never rejects (as a Courier). */
export function withTlsReports(courier: Courier, deps: ReportIntakeDeps): Courier {
  return {
    async deliver(job: DeliveryJob) {
      const outcomes = await courier.deliver(job);
      const mailboxes = deps.mailboxes();
      if (mailboxes.size === 0) return outcomes;
      const to = job.recipients.find((r) => outcomes.get(r.id)?.kind === 'delivered' && reportMailbox(r, mailboxes) !== undefined);
      if (!to) return outcomes;
      const rcpt = reportMailbox(to, mailboxes) as string;
      try {
        await readReportMail(job, rcpt, deps);
      } catch (e) {
        // A bug here must not turn a delivery into a failure: the mail is in the mailbox.
        mailLog(deps.log, 'tls-report', { queueId: job.queueId, rcpt, state: 'error', problems: [String(e)] }, 'TLS report not read; kept as mail', 'error');
      }
      return outcomes;
    },
  };
}

/** The report mailbox a recipient is: its envelope address as given (an alias), or the mailbox it resolved to. */
function reportMailbox(r: JobRecipient, mailboxes: ReadonlySet<string>): string | undefined {
  return [r.rcpt, r.address].map(lowerLocal).find((a) => mailboxes.has(a));
}

function lowerLocal(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address.toLowerCase() : `${address.slice(0, at).toLowerCase()}@${address.slice(at + 1).toLowerCase()}`;
}

async function readReportMail(job: DeliveryJob, rcpt: string, deps: ReportIntakeDeps): Promise<void> {
  const base = { queueId: job.queueId, rcpt };
  const warn = (state: 'malformed' | 'none' | 'error', problems: string[], msg: string): void =>
    mailLog(deps.log, 'tls-report', { ...base, state, problems }, msg, 'warn');
  if (bodySize(job.body) > MAX_REPORT_MESSAGE_BYTES) {
    warn('malformed', [`the message is larger than ${MAX_REPORT_MESSAGE_BYTES} bytes`], 'TLS report mail too large to read; kept as mail');
    return;
  }
  let parts: { contentType: string; filename?: string; content: Buffer }[];
  try {
    const chunks: Buffer[] = [];
    for await (const c of bodyChunks(job.body)) chunks.push(c);
    // Loaded on first use: mailparser is a large share of the memory, and most servers never get a report.
    const { simpleParser } = await import('mailparser');
    const mail = await simpleParser(Buffer.concat(chunks), { skipHtmlToText: true, skipTextToHtml: true, skipTextLinks: true });
    parts = mail.attachments.filter((a) => isReportPart(a.contentType, a.filename));
  } catch (e) {
    warn('malformed', [`not a readable message: ${(e as Error).message}`], 'TLS report mail unreadable; kept as mail');
    return;
  }
  if (parts.length === 0) {
    warn('none', ['no application/tlsrpt+gzip or application/tlsrpt+json part'], 'mail to the TLS report address without a report; kept as mail');
    return;
  }
  for (const part of parts) {
    const parsed = decodeReport(part.content);
    if (!parsed.ok) {
      warn('malformed', parsed.problems.slice(0, 20), `TLS report ${part.filename ?? ''} malformed (RFC 8460 §4.4); kept as mail`.replace('  ', ' '));
      continue;
    }
    const r = parsed.report;
    const facts = {
      organization: r.organization,
      reportId: r.reportId,
      domains: [...new Set(r.policies.map((p) => p.domain))],
      sessions: r.policies.reduce((n, p) => n + p.successes + p.failures, 0),
      failures: r.policies.reduce((n, p) => n + p.failures, 0),
    };
    try {
      const state = await deps.store.add(r, { receivedAt: deps.now(), queueId: job.queueId });
      mailLog(deps.log, 'tls-report', { ...base, state, ...facts }, state === 'stored' ? 'TLS report stored' : 'TLS report already stored');
    } catch (e) {
      warn('error', [`could not store it: ${(e as Error).message}`], 'TLS report not stored; kept as mail');
    }
  }
}
