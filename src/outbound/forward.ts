// Forwarded mail's envelope sender: a recipient that came to one of our addresses and leaves for
// another domain (an alias to an external address, or a bounce to an SRS address) is sent with
// the sender rewritten by SRS when the sender is not one of ours, so the next hop's SPF check
// (RFC 7208 §2.4: it checks MAIL FROM's domain) sees our domain. The queue keeps the original
// sender: our own DSNs still go to it. Wraps a courier; the rewrite itself is srs/srs.ts.
//
//   forwardingCourier(inner, deps) → Courier
import { parseMailbox } from '../core/address.ts';
import type { Courier, DeliveryJob, JobRecipient, Outcome } from '../core/delivery.ts';
import { type Directory, isLocalDomain } from '../routing/recipients.ts';
import { type SrsKeys, srsForward } from '../srs/srs.ts';

export interface ForwardingDeps {
  directory: () => Directory;
  keys: SrsKeys;
  now: () => number;
}

/**
 * The MAIL FROM for one recipient of a job: the SRS address when it is a forward (its envelope
 * recipient at one of our domains, its address elsewhere) of a sender outside our domains; else
 * the sender as queued. Pure.
 */
export function envelopeSender(sender: string, recipient: Pick<JobRecipient, 'rcpt' | 'address'>, directory: Directory, keys: SrsKeys, nowMs: number): string {
  const from = parseMailbox(sender);
  if (!from || ours(from.domain, directory, keys)) return sender;
  const rcpt = parseMailbox(recipient.rcpt);
  const to = parseMailbox(recipient.address);
  if (!rcpt || !to || !ours(rcpt.domain, directory, keys) || ours(to.domain, directory, keys)) return sender;
  return srsForward(sender, keys, nowMs) ?? sender;
}

function ours(domain: string, directory: Directory, keys: SrsKeys): boolean {
  return domain === keys.domain || isLocalDomain(directory, domain);
}

export function forwardingCourier(inner: Courier, deps: ForwardingDeps): Courier {
  return {
    async deliver(job: DeliveryJob): Promise<Map<number, Outcome>> {
      const directory = deps.directory();
      const now = deps.now();
      // One job per envelope sender: a message to a forward and to a plain relay recipient goes out twice.
      const bySender = new Map<string, JobRecipient[]>();
      for (const r of job.recipients) {
        const sender = envelopeSender(job.sender, r, directory, deps.keys, now);
        bySender.set(sender, [...(bySender.get(sender) ?? []), r]);
      }
      if (bySender.size === 1 && bySender.has(job.sender)) return inner.deliver(job);
      const results = await Promise.all(
        [...bySender].map(async ([sender, recipients]) => {
          const outcomes = await inner.deliver({ ...job, sender, recipients });
          // The delivery records say which envelope sender went out.
          return sender === job.sender ? [...outcomes] : [...outcomes].map(([id, o]): [number, Outcome] => [id, { ...o, mailFrom: sender }]);
        }),
      );
      return new Map(results.flat());
    },
  };
}
