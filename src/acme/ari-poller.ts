// Asking the CA when to renew (RFC 9773 §4): finds `renewalInfo` in the directory, then polls it
// for the current certificate as often as the server's Retry-After asks (clamped). Failures
// only postpone the next poll; the one-third rule stays in force meanwhile.
// Side effects: HTTPS GETs through the transport, debug logs.
import type { Logger } from '../log/log.ts';
import { parseRenewalInfo, renewalInfoUrl } from './ari.ts';
import { type RenewalWindow, nextAriPollAt, parseRetryAfter } from './schedule.ts';
import type { AcmeTransport } from './transport.ts';

export interface AriState {
  window?: RenewalWindow;
  explanationUrl?: string;
  /** When to ask next. */
  pollAt: number;
}

export interface AriPoller {
  /** The directory was read and offers renewalInfo: send `replaces`, follow windows. */
  offered(): boolean;
  /** When the plan should poll: undefined once the directory turned out to offer no ARI. */
  pollAt(): number | undefined;
  state(): AriState;
  /** A new certificate: forget the window and ask at `now`. */
  reset(now: number): void;
  /** Reads the directory if not done yet, then asks about `certId`. True when the window changed. */
  poll(certId: string | undefined, now: number): Promise<boolean>;
}

export function createAriPoller(directory: string, transport: AcmeTransport, log: Logger, now: number): AriPoller {
  let discovered = false;
  let base: string | undefined;
  let ari: AriState = { pollAt: now };

  return {
    offered: () => base !== undefined,
    pollAt: () => (discovered && base === undefined ? undefined : ari.pollAt),
    state: () => ari,
    reset(at) {
      ari = { pollAt: at };
    },
    async poll(certId, at) {
      try {
        if (!discovered) {
          const dir = await transport.getJson(directory);
          const url = (dir.body as Record<string, unknown> | undefined)?.['renewalInfo'];
          discovered = dir.status === 200;
          base = typeof url === 'string' ? url : undefined;
          if (discovered && base === undefined) return false; // no ARI at this CA
        }
        if (certId === undefined || base === undefined) {
          ari = { pollAt: nextAriPollAt(at) };
          return false;
        }
        const reply = await transport.getJson(renewalInfoUrl(base, certId));
        const header = reply.headers['retry-after'];
        const retryAfter = parseRetryAfter(typeof header === 'string' ? header : undefined, at);
        const info = reply.status === 200 ? parseRenewalInfo(reply.body) : { ok: false as const, problem: `HTTP ${reply.status}` };
        if (!info.ok) {
          ari = { ...ari, pollAt: nextAriPollAt(at, retryAfter) };
          log.debug({ event: 'cert', action: 'ari-unusable', problem: info.problem }, 'renewalInfo unusable; keeping the previous plan');
          return false;
        }
        const changed = ari.window?.start !== info.window.start || ari.window?.end !== info.window.end;
        ari = { window: info.window, ...(info.explanationUrl ? { explanationUrl: info.explanationUrl } : {}), pollAt: nextAriPollAt(at, retryAfter) };
        return changed;
      } catch (err) {
        ari = { ...ari, pollAt: nextAriPollAt(at) };
        log.debug({ event: 'cert', action: 'ari-unreachable', error: (err as Error).message }, 'renewalInfo unreachable; keeping the previous plan');
        return false;
      }
    },
  };
}
