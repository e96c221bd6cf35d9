// Six small extensions of smtp-server (v3.21), kept in this one file because they reach into
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
// 4. Slow clients (rules in slow-clients.ts, counts in anvil.ts). smtp-server's idle timeout is
//    reset by every byte, so a client trickling a byte every few seconds stays forever, and its
//    maxClients refuses newcomers while such clients hold every slot. Here each session has one
//    deadline timer: idle (since our last reply), command line (from its first byte), DATA (time
//    credit earned at data_min_rate), none while the client waits for us; shorter in stress
//    mode. It ends with 421 4.4.2. Admission goes through the listener's anvil (per address, per
//    network, in total, making room by closing the session stuck longest). Bytes are seen by
//    wrapping the parser's _write, which sees every byte in command and data mode alike.
// 5. Connection checks for screened clients (port 25, outside relay.networks), as Postfix's
//    postscreen does them: a client that sends anything before the greeting while greetPauseMs > 0
//    (an early talker, RFC 5321 §3.1: the client waits for the 220) or that sends a command
//    behind another before EHLO has offered PIPELINING (RFC 2920 §3.1) gets 554 and is closed,
//    reported to the anvil for the log; a client refused at connect (the DNSBL verdict of
//    commands.ts onConnect, `refusalFor`) is greeted, then every command but QUIT gets that
//    refusal (counted by the error limit).
// 6. REQUIRETLS outside TLS. smtp-server refuses `MAIL FROM:<…> REQUIRETLS` on a plaintext
//    session itself, before onMailFrom, as 530 with the generic 5.7.0; it is sent with RFC 8689's
//    code instead: 530 5.7.10 (encryption needed, RFC 5248), as mox does.
import type net from 'node:net';
import type tls from 'node:tls';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Anvil, AnvilMember, Violation } from './anvil.ts';
import { afterData, type DataClock, dataProgressing, deadline, type EvictionCandidate, type SessionClock, startData, timeoutMs } from './slow-clients.ts';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;

/** smtp-server's text for REQUIRETLS on MAIL FROM outside TLS (handler_MAIL, its parameter checks). */
const REQUIRETLS_OUTSIDE_TLS = 'REQUIRETLS not permitted on non-TLS connections';
/** RFC 8689 §4.1: REQUIRETLS only inside TLS; X.7.10 "Encryption needed" (RFC 5248). */
const REQUIRETLS_REFUSAL = '5.7.10 REQUIRETLS needs a TLS session: send STARTTLS first (RFC 8689)';

export interface SealpostServerOptions extends SMTPServerOptions {
  greetPauseMs: number;
  /** Error replies in one session before 421 and close; 0 for no limit. */
  maxErrors: number;
  /** The listener's connection table, shared by its servers. */
  anvil: Anvil;
  /** Does this client get the connection checks (early talker, pipelining)? */
  screened?: (ip: string) => boolean;
  /** Told as the anvil admits a client: the DNSBL lookups start during the greeting pause. */
  onAdmit?: (ip: string) => void;
  /** The reply (with its enhanced code) to every command but QUIT of a session refused at connect. */
  refusalFor?: (sessionId: string) => string | undefined;
}

const REFUSALS = {
  address: 'Too many connections from your address, try again later',
  network: 'Too many connections from your network, try again later',
  total: 'Too many connections, try again in a moment',
  rate: 'Too many connections from your address in the last minute, try again later',
} as const;

const VIOLATIONS: Record<Violation, string> = {
  'early-talker': '5.5.1 Protocol error: talked before the greeting (RFC 5321 section 3.1)',
  pipelining: '5.5.0 Error: improper use of SMTP command pipelining: PIPELINING is offered only after EHLO (RFC 2920)',
};

/** Complete command lines in a chunk, and whether more follows the last one. */
function lines(chunk: Buffer): { complete: number; trailing: boolean } {
  let complete = 0;
  let last = -1;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) {
    complete++;
    last = i;
  }
  return { complete, trailing: last < chunk.length - 1 };
}

class SealpostConnection extends SMTPConnection implements AnvilMember {
  private readonly greetPauseMs: number;
  private readonly maxErrors: number;
  private readonly anvil: Anvil;
  private errors = 0;
  private readonly openedAt: number;
  /** Our last reply (or admission): an idle session's timeout runs from here. */
  private waitingSince: number;
  /** First byte of the command line not yet complete. */
  private lineStartedAt: number | undefined;
  private dataClock: DataClock | undefined;
  private lastProgressAt: number;
  private timer: NodeJS.Timeout | undefined;
  private armedFor = Number.POSITIVE_INFINITY;
  private readonly screened: boolean;
  private readonly refusalFor: ((sessionId: string) => string | undefined) | undefined;
  private readonly onAdmit: ((ip: string) => void) | undefined;
  /** The session has closed (stop() ran). */
  private ended = false;
  /** Counted in the shared table (several processes): told when the session ends. */
  private sharedHeld = false;
  /** Our EHLO reply listed PIPELINING: from now on the client may send commands in groups. */
  private pipeliningOffered = false;

  constructor(server: SealpostSmtpServer, socket: net.Socket | tls.TLSSocket, socketOptions: ConstructorParameters<typeof SMTPConnection>[2]) {
    super(server, socket, socketOptions);
    this.greetPauseMs = server.greetPauseMs;
    this.maxErrors = server.maxErrors;
    this.anvil = server.anvil;
    this.screened = server.screened?.(this.remoteAddress) ?? false;
    this.refusalFor = server.refusalFor;
    this.onAdmit = server.onAdmit;
    this.openedAt = this.waitingSince = this.lastProgressAt = this.anvil.now();
  }

  override init(): void {
    this._setListeners(() => {
      const entry = this.anvil.enter(this);
      if (entry.kind === 'refuse') {
        this.send(421, `4.7.0 ${this.name} ${REFUSALS[entry.limit]}`);
        return;
      }
      const shared = this.anvil.shared;
      if (!shared) return this.admitted();
      // Several session processes: the primary's table counts this client's sessions in all of them.
      const ip = this.remoteAddress;
      const ask = (retried: boolean): void =>
        void shared.admit(ip).then(
          (answer) => {
            if (answer.kind === 'accept') {
              if (this.ended) return shared.left(ip);
              this.sharedHeld = true;
              return this.admitted();
            }
            // Full across the processes: this one closes its session stuck longest, if one may go, and asks again.
            if (answer.limit === 'total' && !retried && !this.ended && this.anvil.makeRoom()) return ask(true);
            this.anvil.refusedShared(ip, answer.limit);
            if (!this.ended) this.send(421, `4.7.0 ${this.name} ${REFUSALS[answer.limit]}`);
          },
          // The primary is going away (this process exits with it): no greeting.
          () => undefined,
        );
      ask(false);
    });
  }

  /** Admitted by every table: the greeting (after the pause) and the session clock. */
  private admitted(): void {
    this.waitingSince = this.lastProgressAt = this.anvil.now();
    if (this.screened) this.onAdmit?.(this.remoteAddress);
    this.rearm();
    if (this.greetPauseMs > 0) setTimeout(() => this.connectionReady(), this.greetPauseMs).unref();
    else this.connectionReady();
  }

  override send(code: number, data?: string | string[] | null, context?: string | false): void {
    const now = this.anvil.now();
    this.waitingSince = now;
    if (code === 354) this.dataClock = startData(now, this.anvil.policy, this.anvil.stressed);
    // biome-ignore lint/complexity/useOptionalChain: _parser is false (not undefined) before the stream exists
    else if (this.dataClock && !(this._parser && this._parser._dataMode)) this.dataClock = undefined;
    if (code === 530 && data === REQUIRETLS_OUTSIDE_TLS) super.send(code, REQUIRETLS_REFUSAL, false);
    else if (typeof data === 'string' && ENHANCED.test(data)) super.send(code, data, false);
    else super.send(code, data, context);
    if (code === 250 && Array.isArray(data) && data.includes('PIPELINING')) this.pipeliningOffered = true;
    if (code >= 400 && code !== 421 && code !== 452 && this.maxErrors > 0 && ++this.errors >= this.maxErrors) {
      super.send(421, `4.7.0 ${this.name} Error: too many errors`, false);
    }
    this.rearm();
  }

  override _createParser(): ReturnType<SMTPConnection['_createParser']> {
    const parser = super._createParser();
    const write = parser._write.bind(parser);
    parser._write = (chunk, encoding, next) => {
      if (this.screened && !parser._dataMode && !this._closing) {
        // Before the greeting (with a pause to catch it), or a second command in the packet before PIPELINING was offered.
        const early = !this._ready && this.greetPauseMs > 0;
        const { complete, trailing } = early ? { complete: 0, trailing: false } : lines(chunk);
        const violation: Violation | undefined = early
          ? 'early-talker'
          : !this.pipeliningOffered && (complete > 1 || (complete === 1 && trailing))
            ? 'pipelining'
            : undefined;
        if (violation) return this.violated(violation, next);
      }
      const arrived = this.input(chunk.length, parser._dataMode);
      write(chunk, encoding, (err?: Error | null) => {
        // A command line that began in this chunk and is not complete yet runs from its first byte.
        if (!parser._dataMode && parser._remainder !== '' && this.lineStartedAt === undefined) {
          this.lineStartedAt = arrived;
          this.rearm();
        }
        next(err);
      });
    };
    return parser;
  }

  override _onCommand(command: Buffer, callback?: () => void): void {
    const now = this.anvil.now();
    this.lineStartedAt = undefined;
    this.waitingSince = this.lastProgressAt = now;
    const refusal = this._ready ? this.refusalFor?.(this.session.id) : undefined;
    if (refusal !== undefined && !/^QUIT\b/i.test(command.toString())) {
      this.send(554, refusal);
      setImmediate(() => callback?.());
      return;
    }
    // The reply was sent while the handler still ran (busy: no deadline armed then); arm it now.
    super._onCommand(command, () => {
      this.rearm();
      callback?.();
    });
  }

  /** Refuses a client that broke the protocol: 554 (it is not a client that will do better on a retry) and close. */
  private violated(violation: Violation, next: (err?: Error | null) => void): void {
    this.anvil.violated(this.remoteAddress, violation, this.anvil.now() - this.openedAt);
    this.send(554, `${VIOLATIONS[violation]}`);
    this.close();
    next();
  }

  override close(): void {
    this.stop();
    super.close();
  }

  override _onClose(): void {
    this.stop();
    super._onClose();
  }

  candidate(now: number): EvictionCandidate {
    const clock = this.clock();
    return {
      id: this.id,
      openedAt: this.openedAt,
      busy: clock.kind === 'busy',
      dataProgressing: clock.kind === 'data' && dataProgressing(clock.clock, now, this.anvil.policy),
      lastProgressAt: this.lastProgressAt,
    };
  }

  evict(): void {
    this.send(421, `4.7.0 ${this.name} Error: too many connections, closing the session idle longest`);
    // Its place in the primary's table goes now, before the session that takes it is asked for there.
    this.releaseShared();
  }

  /** Arms the deadline timer if the deadline is now earlier than the one armed (a later one is found when it fires). */
  rearm(): void {
    if (this._closing || this._closed) return;
    const due = deadline(this.clock(), this.anvil.policy, this.anvil.stressed);
    if (!due || due.at >= this.armedFor) return;
    clearTimeout(this.timer);
    this.armedFor = due.at;
    this.timer = setTimeout(() => this.onDeadline(), Math.max(1, due.at - this.anvil.now()));
    this.timer.unref();
  }

  /** Bytes from the client, before the parser sees them; returns when they arrived. */
  private input(bytes: number, dataMode: boolean): number {
    const now = this.anvil.now();
    if (dataMode) {
      const { policy, stressed } = this.anvil;
      this.dataClock = afterData(this.dataClock ?? startData(now, policy, stressed), bytes, now, policy, stressed);
      if (dataProgressing(this.dataClock, now, policy)) this.lastProgressAt = now;
    } else {
      this.dataClock = undefined;
      this.lineStartedAt ??= now;
    }
    this.rearm();
    return now;
  }

  private clock(): SessionClock {
    const parser = this._parser;
    // biome-ignore lint/complexity/useOptionalChain: _parser is false (not undefined) before the stream exists
    const inData = Boolean(parser && parser._dataMode);
    if (inData && this.dataClock) return { kind: 'data', clock: this.dataClock };
    // Not greeted yet (greeting pause, onConnect), a handler runs, or the message is in and the
    // onData handler has not decided yet. (smtp-server's idle timeout still backs this up.)
    if (!this._ready || this._handlerPending || (this._dataStream && !inData)) return { kind: 'busy' };
    if (this.lineStartedAt !== undefined) return { kind: 'command', since: this.lineStartedAt };
    return { kind: 'idle', since: this.waitingSince };
  }

  private onDeadline(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    if (this._closing || this._closed) return;
    const now = this.anvil.now();
    const { policy, stressed } = this.anvil;
    const due = deadline(this.clock(), policy, stressed);
    if (!due) return;
    if (due.at > now) return this.rearm();
    const data = due.reason === 'data' ? this.dataClock : undefined;
    this.anvil.timedOut({
      clientIp: this.remoteAddress,
      reason: due.reason,
      timeoutMs: timeoutMs(policy, stressed),
      ...(data ? { dataBytes: data.bytes, dataMs: now - data.startedAt } : {}),
    });
    this.send(421, `4.4.2 ${this.name} Error: timeout exceeded`);
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.NEGATIVE_INFINITY;
    this.anvil.leave(this);
    this.ended = true;
    this.releaseShared();
  }

  private releaseShared(): void {
    if (this.sharedHeld) this.anvil.shared?.left(this.remoteAddress);
    this.sharedHeld = false;
  }
}

export class SealpostSmtpServer extends SMTPServer {
  readonly greetPauseMs: number;
  readonly maxErrors: number;
  readonly anvil: Anvil;
  readonly screened: ((ip: string) => boolean) | undefined;
  readonly onAdmit: ((ip: string) => void) | undefined;
  readonly refusalFor: ((sessionId: string) => string | undefined) | undefined;

  constructor(options: SealpostServerOptions) {
    const { greetPauseMs, maxErrors, anvil, screened, onAdmit, refusalFor, ...rest } = options;
    super(rest);
    this.greetPauseMs = greetPauseMs;
    this.maxErrors = maxErrors;
    this.anvil = anvil;
    this.screened = screened;
    this.onAdmit = onAdmit;
    this.refusalFor = refusalFor;
  }

  override connect(socket: net.Socket | tls.TLSSocket, socketOptions?: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const connection = new SealpostConnection(this, socket, socketOptions);
    this.connections.add(connection);
    connection.on('error', (err: Error) => this._onError(err));
    connection.on('connect', (data: unknown) => this._onClientConnect(data as Parameters<SMTPServer['_onClientConnect']>[0]));
    connection.init();
  }
}
