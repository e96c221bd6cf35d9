// Asking the CA when to renew (RFC 9773 §4): finds `renewalInfo` in the directory, then polls it
// for the current certificate as often as the server's Retry-After asks (clamped). Failures
// only postpone the next poll; the one-third rule stays in force meanwhile.
// Side effects: HTTPS GETs through the transport, debug logs.
import type { Logger } from '../log/log.ts';
import { parseRenewalInfo, renewalInfoUrl } from './ari.ts';
import { nextAriPollAt, parseRetryAfter, type RenewalWindow } from './schedule.ts';
import type { AcmeTransport } from './transport.ts';

export interface AriState {
  window?: RenewalWindow;
  explanationUrl?: string;
  /** When to ask next. */
  pollAt: number;
}

/** One poll's answer: whether the directory offers ARI (undefined until it was read), the state after it, and whether the window changed. */
export interface AriPollResult {
  offered: boolean | undefined;
  ari: AriState;
  changed: boolean;
}

export interface AriPoller {
  /** Reads the directory if not done yet, then asks about `certId`; `previous` is the state so far. */
  poll(certId: string | undefined, previous: AriState, now: number): Promise<AriPollResult>;
}

/** The poller remembers only what the directory said (read once); the window state is the caller's. */
export function createAriPoller(directory: string, transport: AcmeTransport, log: Logger): AriPoller {
  let discovered = false;
  let base: string | undefined;
  const answer = (ari: AriState, changed = false): AriPollResult => ({ offered: discovered ? base !== undefined : undefined, ari, changed });

  return {
    async poll(certId, previous, at) {
      try {
        if (!discovered) {
          const dir = await transport.getJson(directory);
          const url = (dir.body as Record<string, unknown> | undefined)?.['renewalInfo'];
          discovered = dir.status === 200;
          base = typeof url === 'string' ? url : undefined;
          if (discovered && base === undefined) return answer(previous); // no ARI at this CA
        }
        if (certId === undefined || base === undefined) return answer({ pollAt: nextAriPollAt(at) });
        const reply = await transport.getJson(renewalInfoUrl(base, certId));
        const header = reply.headers['retry-after'];
        const retryAfter = parseRetryAfter(typeof header === 'string' ? header : undefined, at);
        const info = reply.status === 200 ? parseRenewalInfo(reply.body) : { ok: false as const, problem: `HTTP ${reply.status}` };
        if (!info.ok) {
          log.debug({ event: 'cert', action: 'ari-unusable', problem: info.problem }, 'renewalInfo unusable; keeping the previous plan');
          return answer({ ...previous, pollAt: nextAriPollAt(at, retryAfter) });
        }
        const changed = previous.window?.start !== info.window.start || previous.window?.end !== info.window.end;
        return answer(
          { window: info.window, ...(info.explanationUrl ? { explanationUrl: info.explanationUrl } : {}), pollAt: nextAriPollAt(at, retryAfter) },
          changed,
        );
      } catch (err) {
        log.debug({ event: 'cert', action: 'ari-unreachable', error: (err as Error).message }, 'renewalInfo unreachable; keeping the previous plan');
        return answer({ ...previous, pollAt: nextAriPollAt(at) });
      }
    },
  };
}
