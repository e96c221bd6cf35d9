// Sends one TLS report to one rua= destination: mailto: as a DKIM-signed multipart/report message
// put into our own queue (marked, so its delivery is never reported on), https: by POST (post.ts).
import { gzipSync } from 'node:zlib';
import type { DkimSigner } from '../dkim/signer.ts';
import type { NewMessage } from '../queue/message.ts';
import type { RecipientDecision } from '../routing/recipients.ts';
import { reportMail } from './mail.ts';
import type { PostResult } from './post.ts';
import { reportFileName, type TlsReport } from './report.ts';
import type { ReportDestination } from './rua.ts';
import type { SentDestination } from './sent-store.ts';

export interface DeliverDeps {
  hostname: string;
  /** The From: address; its domain signs (DKIM). */
  from: string;
  signer: DkimSigner;
  now: () => number;
  newId: () => string;
  route: (address: string) => RecipientDecision;
  /** Marks the queue id as a report message, then enqueues it (resolves once committed). */
  enqueue: (message: NewMessage) => Promise<void>;
  post: (url: URL, gzip: Buffer) => Promise<PostResult>;
}

/** The gzip JSON and its file name (RFC 8460 §5.1). */
export function packReport(report: TlsReport, submitter: string, policyDomain: string, beginMs: number, endMs: number): { gzip: Buffer; fileName: string } {
  return { gzip: gzipSync(JSON.stringify(report)), fileName: reportFileName(submitter, policyDomain, beginMs, endMs) };
}

export async function deliverReport(
  destination: ReportDestination,
  packed: { gzip: Buffer; fileName: string },
  report: TlsReport,
  policyDomain: string,
  deps: DeliverDeps,
): Promise<SentDestination> {
  if (destination.kind === 'https') {
    const posted = await deps.post(destination.url, packed.gzip);
    return posted.ok ? { uri: destination.uri, result: 'posted' } : { uri: destination.uri, result: 'failed', error: posted.error };
  }
  const route = deps.route(destination.address);
  if (route.kind === 'reject') return { uri: destination.uri, result: 'failed', error: `${destination.address}: ${route.text}` };
  const id = deps.newId();
  const now = deps.now();
  const unsigned = reportMail({
    from: deps.from,
    to: destination.address,
    policyDomain,
    submitter: deps.hostname,
    reportId: report['report-id'],
    fileName: packed.fileName,
    gzip: packed.gzip,
    now,
    messageId: `${id}@${deps.hostname}`,
    boundary: `tlsrpt-${id}`,
  });
  const fromDomain = deps.from.slice(deps.from.lastIndexOf('@') + 1);
  const signed = await deps.signer.sign(unsigned, fromDomain);
  const body = signed.kind === 'signed' ? Buffer.concat([Buffer.from(signed.headers), unsigned]) : unsigned;
  try {
    await deps.enqueue({
      id,
      receivedAt: now,
      // The null reverse-path (RFC 5321 §4.5.5): a report that cannot be delivered bounces to no one.
      sender: '',
      body,
      smtputf8: false,
      eightBit: false,
      origin: 'tlsrpt',
      // RFC 8460 §3: "MUST deliver reports despite any TLS-related failures": the recipient
      // domain's MTA-STS (and DANE) are set aside for it, as for TLS-Required: No (RFC 8689 §5).
      tlsRequired: 'no',
      headerMessageId: `<${id}@${deps.hostname}>`,
      subject: `Report Domain: ${policyDomain} Submitter: ${deps.hostname} Report-ID: <${report['report-id']}>`,
      recipients: [
        route.kind === 'local'
          ? { rcpt: destination.address, address: route.mailbox, transport: 'local' }
          : { rcpt: destination.address, address: route.address, transport: 'remote' },
      ],
    });
  } catch (err) {
    return { uri: destination.uri, result: 'failed', error: `could not queue the report: ${(err as Error).message}` };
  }
  return { uri: destination.uri, result: 'queued', queueId: id };
}
