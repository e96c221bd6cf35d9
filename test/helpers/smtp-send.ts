// One message over one plain SMTP session, in-process (no swaks process per message), for tests
// that send many and need each one's final reply: the greeting, EHLO, MAIL, RCPT, DATA and the
// reply to the end of data; the first reply that is not a success ends the session (QUIT) and is
// the result. A broken connection is a result too (code 0). Side effect: one TCP connection.
import net from 'node:net';

export interface SendOptions {
  host: string;
  port: number;
  from: string;
  to: string;
  subject: string;
  body?: string;
  /** The whole session's deadline (default 30 s). */
  timeoutMs?: number;
}

export interface SendResult {
  /** The final reply's code: 250 = accepted; 0 = the connection broke or timed out first. */
  code: number;
  /** The final reply's text (or the socket error). */
  text: string;
  /** Date.now() when the final reply (or the error) arrived. */
  at: number;
}

export function sendOne(o: SendOptions): Promise<SendResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: o.host, port: o.port });
    let buffer = '';
    let lines: string[] = [];
    let finished = false;
    const done = (code: number, text: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      if (code !== 0 && !socket.destroyed) socket.end('QUIT\r\n');
      else socket.destroy();
      resolve({ code, text, at: Date.now() });
    };
    const timer = setTimeout(() => done(0, 'timed out'), o.timeoutMs ?? 30_000);
    const body = `From: <${o.from}>\r\nTo: <${o.to}>\r\nSubject: ${o.subject}\r\nMessage-ID: <${o.subject.replace(/[^A-Za-z0-9.-]/g, '')}@send.test>\r\n\r\n${o.body ?? 'test'}\r\n.\r\n`;
    // Each step: what to send once the previous reply was a success (2xx, or 354 for DATA).
    const steps: string[] = ['EHLO send.test\r\n', `MAIL FROM:<${o.from}>\r\n`, `RCPT TO:<${o.to}>\r\n`, 'DATA\r\n', body];
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        lines.push(line);
        if (line[3] === '-') continue;
        const code = Number(line.slice(0, 3));
        const text = lines.join('\n');
        lines = [];
        const next = steps.shift();
        if (next === undefined || !(code >= 200 && code < 400)) {
          done(code, text);
          return;
        }
        socket.write(next);
      }
    });
    socket.on('error', (err) => done(0, err.message));
    socket.on('close', () => done(0, 'connection closed'));
  });
}
