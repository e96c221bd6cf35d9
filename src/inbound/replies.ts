// Small facts and replies about an smtp-server session, shared by the listener and acceptance.
import type { SMTPServerSession } from 'smtp-server';

/** An error smtp-server answers with: "CODE ENHANCED TEXT" (our own RFC 3463 code, see smtp-server-ext.ts). */
export function reply(code: number, enhanced: string, text: string): Error {
  return Object.assign(new Error(`${enhanced} ${text}`), { responseCode: code });
}

/** The authenticated user's address (set by onAuth), or undefined. */
export function sessionUser(session: SMTPServerSession): string | undefined {
  return typeof session.user === 'string' ? session.user : undefined;
}

export function mailFrom(session: SMTPServerSession): string {
  return session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
}
