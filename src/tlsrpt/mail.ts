// A TLS report as a mail message (RFC 8460 §5.3), pure: multipart/report; report-type="tlsrpt"
// with the Subject, TLS-Report-Domain, TLS-Report-Submitter and TLS-Required: No fields, a short
// text part and the gzip JSON as an application/tlsrpt+gzip attachment named per §5.1. DKIM
// signing and the queue are the caller's (tlsrpt/deliver.ts).
import { rfc5322Date } from '../core/date.ts';
import { TLSRPT_GZIP_TYPE } from './report.ts';

export interface ReportMailInput {
  from: string;
  to: string;
  policyDomain: string;
  /** Our hostname (RFC 8460 §5.3 "Submitter"). */
  submitter: string;
  reportId: string;
  /** reportFileName() */
  fileName: string;
  gzip: Buffer;
  now: number;
  messageId: string;
  boundary: string;
}

/** The message, CRLF line ends, 7-bit (the attachment in base64). */
export function reportMail(input: ReportMailInput): Buffer {
  const attachment = input.gzip.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: <${input.from}>`,
    `Date: ${rfc5322Date(input.now)}`,
    `To: <${input.to}>`,
    // RFC 8460 §5.3: "Report Domain: … Submitter: … Report-ID: <…>", folded.
    `Subject: Report Domain: ${input.policyDomain}`,
    ` Submitter: ${input.submitter}`,
    ` Report-ID: <${input.reportId}>`,
    `Message-ID: <${input.messageId}>`,
    `TLS-Report-Domain: ${input.policyDomain}`,
    `TLS-Report-Submitter: ${input.submitter}`,
    'Auto-Submitted: auto-generated',
    // RFC 8460 §3: reports are delivered despite TLS failures; RFC 8689 §5 says so to every hop.
    'TLS-Required: No',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt";`,
    ` boundary="${input.boundary}"`,
    '',
    'This is a multipart message in MIME format.',
    '',
    `--${input.boundary}`,
    'Content-Type: text/plain; charset="us-ascii"',
    'Content-Transfer-Encoding: 7bit',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${input.submitter} about ${input.policyDomain}.`,
    '',
    `--${input.boundary}`,
    `Content-Type: ${TLSRPT_GZIP_TYPE}`,
    'Content-Transfer-Encoding: base64',
    'Content-Disposition: attachment;',
    ` filename="${input.fileName}"`,
    '',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n${attachment}\r\n--${input.boundary}--\r\n`);
}
