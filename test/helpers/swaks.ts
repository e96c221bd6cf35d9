// Runs swaks (the SMTP test client) against a server in tests. Side effect: one swaks process.
import { type RunResult, run } from './proc.ts';

export interface SwaksOptions {
  /** Kills swaks after this long (default 30 s); swaks' own --timeout applies per SMTP step. */
  timeoutMs?: number;
  /** Given to swaks on stdin (for --data -). */
  input?: string;
}

/**
 * `swaks ARGS`: resolves with exit code and output; never rejects for an SMTP failure (swaks
 * exits non-zero: 23 = rejected RCPT, 24 = no recipients accepted, 25 = DATA rejected,
 * 29 = TLS not available, 28 = auth failure, 21 = server error at connect).
 * Always pass --server 127.0.0.1:PORT: without it swaks looks up MX records.
 */
export function swaks(args: readonly string[], options: SwaksOptions = {}): Promise<RunResult> {
  return run('swaks', args, { timeoutMs: options.timeoutMs ?? 30_000, input: options.input });
}

export interface SwaksMessage {
  port: number;
  host?: string;
  from: string;
  to: readonly string[];
  subject?: string;
  body?: string;
  /** EHLO name; default "client.swaks.test" (a FQDN: servers may refuse a bare host name). */
  ehlo?: string;
  /** Require STARTTLS (--tls) or try it (--tls-optional). */
  tls?: 'require' | 'optional';
  extraArgs?: readonly string[];
}

/** The common case: one message to `to` through host:port. */
export function swaksSend(message: SwaksMessage, options: SwaksOptions = {}): Promise<RunResult> {
  const args = [
    '--server',
    `${message.host ?? '127.0.0.1'}:${message.port}`,
    '--from',
    message.from,
    '--to',
    message.to.join(','),
    '--ehlo',
    message.ehlo ?? 'client.swaks.test',
    '--timeout',
    '15',
  ];
  if (message.subject !== undefined) args.push('--header', `Subject: ${message.subject}`);
  if (message.body !== undefined) args.push('--body', message.body);
  if (message.tls === 'require') args.push('--tls');
  if (message.tls === 'optional') args.push('--tls-optional');
  return swaks([...args, ...(message.extraArgs ?? [])], options);
}
