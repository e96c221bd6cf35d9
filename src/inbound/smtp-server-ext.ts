// Three small extensions of smtp-server (v3.21), kept in this one file because they reach into
// documented-but-underscored internals (declared in its .d.ts):
// 1. The greeting pause. smtp-server hard-codes a 100 ms wait before the 220 greeting (early
//    talker detection in SMTPConnection.init()), which caps a connection at < 10 messages/s and
//    has no option. Here it is `greetPauseMs`: 0 greets at once (submission, trusted networks);
//    a positive value keeps the anti-spam pause (port 25, like Postfix's postscreen greet wait).
// 2. Our own enhanced status codes. smtp-server derives the RFC 3463 code from the reply code
//    alone (every 554 becomes 5.6.0); a reply text that starts with its own code ("5.7.1 …")
//    is sent as it is.
// 3. The error limit (Postfix's smtpd_hard_error_limit): every 4xx/5xx reply counts, smtp-server's
//    own (unknown command, syntax, bad sequence) as well as ours; at `maxErrors` the error reply
//    is followed by 421 and the connection closes (RFC 5321 §3.8). 421 and 452 do not count: a
//    452 for too many recipients asks the client to send the rest in another transaction.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

export interface SealpostServerOptions extends SMTPServerOptions {
  greetPauseMs: number;
  /** Error replies in one session before 421 and close; 0 for no limit. */
  maxErrors: number;
}

class SealpostConnection extends SMTPConnection {
  private readonly greetPauseMs: number;
  private readonly maxErrors: number;
  private errors = 0;

  constructor(server: SealpostSmtpServer, socket: net.Socket | tls.TLSSocket, socketOptions: ConstructorParameters<typeof SMTPConnection>[2]) {
    super(server, socket, socketOptions);
    this.greetPauseMs = server.greetPauseMs;
    this.maxErrors = server.maxErrors;
  }

  override init(): void {
    this._setListeners(() => {
      const max = this._server.options.maxClients;
      if (max && this._server.connections.size > max) {
        this.send(421, `4.7.0 ${this.name} Too many connections, try again in a moment`);
        return;
      }
      if (this.greetPauseMs > 0) setTimeout(() => this.connectionReady(), this.greetPauseMs).unref();
      else this.connectionReady();
    });
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    if (typeof data === 'string' && ENHANCED.test(data)) super.send(code, data, false);
    else super.send(code, data, context);
    if (code >= 400 && code !== 421 && code !== 452 && this.maxErrors > 0 && ++this.errors >= this.maxErrors) {
      super.send(421, `4.7.0 ${this.name} Error: too many errors`, false);
    }
  }
}

export class SealpostSmtpServer extends SMTPServer {
  readonly greetPauseMs: number;
  readonly maxErrors: number;

  constructor(options: SealpostServerOptions) {
    const { greetPauseMs, maxErrors, ...rest } = options;
    super(rest);
    this.greetPauseMs = greetPauseMs;
    this.maxErrors = maxErrors;
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new SealpostConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: unknown) => this._onClientConnect(data as Parameters<SMTPServer['_onClientConnect']>[0]));
    connection.init();
  }
}
