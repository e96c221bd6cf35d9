// Reading delivered mail in tests: the messages in a Maildir's new/ (and cur/) with their headers,
// and composing a small RFC 5322 message to send. Side effects: reads files only.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

export interface MaildirMessage {
  /** Absolute path of the message file. */
  file: string;
  /** "new" or "cur". */
  folder: 'new' | 'cur';
  raw: string;
  /** First value of a header field (unfolded), or undefined. Name is case-insensitive. */
  header(name: string): string | undefined;
  subject: string | undefined;
}

/**
 * The messages in the Maildir at `maildir` (the folder holding tmp/ new/ cur/), oldest first.
 * A Maildir that does not exist yet has no messages. tmp/ is never read: a file there is not
 * delivered yet.
 */
export async function readMaildirAt(maildir: string): Promise<MaildirMessage[]> {
  const found: { file: string; folder: 'new' | 'cur'; mtimeMs: number; name: string }[] = [];
  for (const folder of ['new', 'cur'] as const) {
    const names = await readdir(path.join(maildir, folder)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = path.join(maildir, folder, name);
      found.push({ file, folder, name, mtimeMs: (await stat(file)).mtimeMs });
    }
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
  return Promise.all(found.map(async ({ file, folder }) => parsedMessage(file, folder, await readFile(file, 'utf8'))));
}

/** Sealpost's layout: `<dataDir>/mail/<domain>/<mailbox>/{tmp,new,cur}`. */
export function sealpostMaildir(dataDir: string, domain: string, mailbox: string): string {
  return path.join(dataDir, 'mail', domain, mailbox);
}

export function readMaildir(dataDir: string, domain: string, mailbox: string): Promise<MaildirMessage[]> {
  return readMaildirAt(sealpostMaildir(dataDir, domain, mailbox));
}

/** Every Maildir two levels below `base` (`<base>/<domain>/<mailbox>/`), as "domain/mailbox". */
export async function listMaildirs(base: string): Promise<string[]> {
  const dirs: string[] = [];
  const domains = await readdir(base, { withFileTypes: true }).catch(() => []);
  for (const domain of domains.filter((d) => d.isDirectory())) {
    const boxes = await readdir(path.join(base, domain.name), { withFileTypes: true });
    for (const box of boxes.filter((b) => b.isDirectory())) dirs.push(`${domain.name}/${box.name}`);
  }
  return dirs.sort();
}

function parsedMessage(file: string, folder: 'new' | 'cur', raw: string): MaildirMessage {
  return { file, folder, raw, header: (name) => headerValue(raw, name), subject: headerValue(raw, 'subject') };
}

/** First value of header `name` in an RFC 5322 message (continuation lines unfolded, §2.2.3). */
export function headerValue(raw: string, name: string): string | undefined {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = `${name.toLowerCase()}:`;
  for (const line of head.split(/\r?\n/)) {
    if (line.toLowerCase().startsWith(wanted)) return line.slice(wanted.length).trim();
  }
  return undefined;
}

/** All values of header `name`, in order (e.g. every Received). */
export function headerValues(raw: string, name: string): string[] {
  const end = raw.search(/\r?\n\r?\n/);
  const head = (end === -1 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  const wanted = `${name.toLowerCase()}:`;
  return head
    .split(/\r?\n/)
    .filter((line) => line.toLowerCase().startsWith(wanted))
    .map((line) => line.slice(wanted.length).trim());
}

export interface ComposeOptions {
  from: string;
  to: readonly string[];
  subject: string;
  body?: string;
  /** Extra header lines, e.g. { 'Message-ID': '<x@y>' }. */
  headers?: Readonly<Record<string, string>>;
}

/** A small message with CRLF line ends; Date and Message-ID are left to the MTA unless given. */
export function composeMessage(options: ComposeOptions): string {
  const lines = [`From: <${options.from}>`, `To: ${options.to.map((t) => `<${t}>`).join(', ')}`, `Subject: ${options.subject}`];
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const body = (options.body ?? 'Test message.\n').replace(/\r?\n/g, '\r\n');
  return `${lines.join('\r\n')}\r\n\r\n${body.endsWith('\r\n') ? body : `${body}\r\n`}`;
}
