// [[domain]] delivery (pure): "maildir" or an LMTP destination in Postfix's notation
// ("lmtp:unix:/run/dovecot/lmtp", "lmtp:[127.0.0.1]:24"), parsed into a LocalDelivery or the
// sentence that says what to write instead.
import path from 'node:path';
import { parseHostPort } from './fields.ts';
import type { LocalDelivery } from './types.ts';

/** Port 24 ("any private mail system"): where Dovecot's and Cyrus's examples put LMTP over TCP. */
export const LMTP_PORT = 24;

const EXAMPLES = 'write "maildir", "lmtp:unix:/run/dovecot/lmtp" or "lmtp:[127.0.0.1]:24"';

export function parseDelivery(text: string): LocalDelivery | string {
  if (text === 'maildir') return { kind: 'maildir' };
  if (!text.startsWith('lmtp:')) return `"${text}" is not a delivery; ${EXAMPLES}`;
  const rest = text.slice('lmtp:'.length);
  if (rest.startsWith('unix:')) {
    const socket = rest.slice('unix:'.length);
    if (!path.isAbsolute(socket)) return `"${text}": the socket must be an absolute path, e.g. "lmtp:unix:/run/dovecot/lmtp"`;
    return { kind: 'lmtp', socket: path.normalize(socket) };
  }
  // Postfix writes "lmtp:inet:host:port" too; the brackets are optional here (no MX lookup either way).
  const hostPort = parseHostPort(rest.startsWith('inet:') ? rest.slice('inet:'.length) : rest, LMTP_PORT);
  if (typeof hostPort === 'string') return `"${text}": ${hostPort}; ${EXAMPLES}`;
  return { kind: 'lmtp', host: hostPort.host, port: hostPort.port };
}

/** How a delivery is named in logs and `queue show`: "maildir", "unix:/run/dovecot/lmtp", "127.0.0.1:24". */
export function deliveryName(d: LocalDelivery): string {
  if (d.kind === 'maildir') return 'maildir';
  if ('socket' in d) return `unix:${d.socket}`;
  return d.host.includes(':') ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`;
}
