// Which Maildir folder a message goes to (pure): the mailbox's inbox, or its Maildir++ Junk
// folder (`.Junk/`, which Dovecot shows as "Junk") when the first X-Spam field of its header
// block says Yes. Intake puts ours (from rspamd's verdict) above every field the sender wrote, so
// the first one is ours whenever rspamd checked the message; a sender's own "X-Spam: Yes" can only
// file its own mail as junk.
import path from 'node:path';

/** Maildir++ (https://www.courier-mta.org/imap/README.maildirquota.html): a folder is ".Name" inside the Maildir. */
export const JUNK_FOLDER = '.Junk';

/** The first X-Spam field of the header block in `head` says Yes. */
export function taggedAsSpam(head: Buffer): boolean {
  // The header block ends at the first empty line (RFC 5322 §2.1); only it is read.
  const end = head.indexOf('\r\n\r\n');
  const block = head.subarray(0, end === -1 ? head.length : end).toString('latin1');
  const field = /(?:^|\r\n)x-spam[ \t]*:([^\r\n]*)/i.exec(block);
  return field !== null && /^\s*yes\b/i.test(field[1] ?? '');
}

/** The Maildir to write into: `mailbox` itself, or its Junk folder. */
export function folderFor(mailbox: string, head: Buffer, junkFolder: boolean): string {
  return junkFolder && taggedAsSpam(head) ? path.join(mailbox, JUNK_FOLDER) : mailbox;
}
