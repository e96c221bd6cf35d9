// Turns what one SMTP transaction returned into one Outcome per recipient, and says whether the
// next MX host should be tried (pure). RFC 5321 §4.2.1 (2yz/4yz/5yz), §5.1 (try the next host on
// failures of the connection, not on a recipient's definite answer).
import type { HopInfo, Outcome, SmtpReply } from '../core/delivery.ts';
import type { SendResult } from './smtp-client.ts';

export interface Classified {
  outcomes: Map<string, Outcome>;
  /** The connection-level failure allows another MX host to be tried for these recipients. */
  tryNextHost: boolean;
  /** The reply that best explains the attempt, for the hop record. */
  reply?: SmtpReply;
  error?: string;
}

export function describeReply(host: string, reply: SmtpReply, command: string): string {
  return `host ${host} said: ${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text} (in reply to ${command})`;
}

function fromReply(reply: SmtpReply, reason: string, hop: HopInfo): Outcome {
  if (reply.code < 400) return { kind: 'delivered', detail: reason, reply, hop };
  const kind = reply.code >= 500 ? 'permanent' : 'transient';
  return { kind, reason, enhanced: reply.enhanced ?? (kind === 'permanent' ? '5.0.0' : '4.0.0'), reply, hop };
}

export function classifySend(result: SendResult, rcpts: readonly string[], hop: HopInfo, hostLabel: string): Classified {
  const outcomes = new Map<string, Outcome>();
  const all = (o: Outcome): void => {
    for (const r of rcpts) if (!outcomes.has(r)) outcomes.set(r, o);
  };
  const rcptOutcomes = (replies: ReadonlyMap<string, SmtpReply>): void => {
    for (const [rcpt, reply] of replies) {
      if (reply.code >= 400) outcomes.set(rcpt, fromReply(reply, describeReply(hostLabel, reply, 'RCPT TO'), hop));
    }
  };
  switch (result.kind) {
    case 'refused':
      all({ kind: 'permanent', reason: `${result.reason} (${hostLabel})`, enhanced: result.enhanced, hop });
      return { outcomes, tryNextHost: false, error: result.reason };
    case 'failed': {
      if (result.stage === 'mail' && result.reply) {
        all(fromReply(result.reply, describeReply(hostLabel, result.reply, 'MAIL FROM'), hop));
        return { outcomes, tryNextHost: result.reply.code < 500, reply: result.reply };
      }
      rcptOutcomes(result.rcptReplies);
      const reason = `lost connection with ${hostLabel} ${result.stage === 'data' ? 'while sending the message' : `during ${result.stage === 'mail' ? 'MAIL FROM' : 'RCPT TO'}`}: ${result.error ?? 'unknown error'}`;
      all({ kind: 'transient', reason, enhanced: '4.4.2', hop });
      // Before DATA nothing was delivered: another host may take it now. After, a retry later
      // avoids delivering twice in a row.
      return { outcomes, tryNextHost: result.stage !== 'data', ...(result.error ? { error: result.error } : {}) };
    }
    case 'done': {
      rcptOutcomes(result.rcptReplies);
      const data = result.dataReply;
      for (const r of rcpts) {
        if (outcomes.has(r)) continue;
        if (!result.rcptReplies.has(r)) outcomes.set(r, { kind: 'transient', reason: `no RCPT reply from ${hostLabel}`, enhanced: '4.4.2', hop });
        else if (data)
          outcomes.set(r, fromReply(data, data.code < 400 ? `${hostLabel}: ${data.code} ${data.text}` : describeReply(hostLabel, data, 'end of DATA'), hop));
        else outcomes.set(r, { kind: 'transient', reason: `${hostLabel} gave no reply to DATA`, enhanced: '4.4.2', hop });
      }
      const refused = [...result.rcptReplies.values()].find((r) => r.code >= 400);
      const reply = data ?? refused;
      return { outcomes, tryNextHost: false, ...(reply ? { reply } : {}) };
    }
  }
}

/** The attempt's overall result for the hop record. */
export function summarize(outcomes: Iterable<Outcome>): 'delivered' | 'transient' | 'permanent' | 'mixed' {
  const kinds = new Set([...outcomes].map((o) => o.kind));
  if (kinds.size === 1) return [...kinds][0] as 'delivered' | 'transient' | 'permanent';
  return 'mixed';
}
