// A week of simulated traffic written into a Sealpost database, for the status page's tests:
// per hour, inbound sessions (some without TLS) in session_stats and outbound attempts (delivered,
// deferred with a 450 reply or a refused connection, bounced with a 550, some in plaintext) in
// attempts, with a quiet stretch of six hours without any. Deterministic; returns what it wrote,
// per hour slot of the 168 ending with the hour of `now`.
import type { Database } from 'better-sqlite3';

const HOUR = 3_600_000;
export const QUIET_HOURS = [40, 41, 42, 43, 44, 45];
export const DESTINATIONS = ['gmail.test', 'outlook.test', 'example.net'];

export interface SeededHour {
  hour: number;
  sessions: number;
  tls: number;
  received: number;
  delivered: number;
  deferred: number;
  bounced: number;
  /** Attempts that reached a host, and those with TLS. */
  connections: number;
  outboundTls: number;
}

export function seedWeek(db: Database, now: number): SeededHour[] {
  const from = Math.floor(now / HOUR) * HOUR - 167 * HOUR;
  const hours: SeededHour[] = [];
  const session = db.prepare(
    'INSERT INTO session_stats (hour, listener, tls, sessions, messages) VALUES (?, ?, ?, ?, ?) ON CONFLICT (hour, listener, tls) DO UPDATE SET sessions = sessions + excluded.sessions, messages = messages + excluded.messages',
  );
  const attempt = db.prepare(
    `INSERT INTO attempts (queue_id, at, domain, rcpts, mx, ip, port, policy, policy_source, tls_version, tls_cipher, tls_verified, tls_error, downgrade,
       result, reply_code, reply_enhanced, reply_text, error, ms)
     VALUES (?, ?, ?, '[]', ?, ?, 25, 'may', 'default', ?, ?, ?, NULL, NULL, ?, ?, ?, ?, ?, 120)`,
  );
  db.transaction(() => {
    for (let i = 0; i < 168; i++) {
      const hour = from + i * HOUR;
      const h: SeededHour = { hour, sessions: 0, tls: 0, received: 0, delivered: 0, deferred: 0, bounced: 0, connections: 0, outboundTls: 0 };
      hours.push(h);
      if (QUIET_HOURS.includes(i)) continue;
      // Daytime (UTC 08-20) is busier.
      const utc = new Date(hour).getUTCHours();
      const busy = utc >= 8 && utc < 20 ? 3 : 1;
      const plain = i % 3 === 0 ? 1 : 0;
      const withTls = 2 * busy + (i % 4);
      session.run(hour, 'mx', 1, withTls, withTls);
      if (plain > 0) session.run(hour, 'mx', 0, plain, plain);
      h.sessions = withTls + plain;
      h.tls = withTls;
      h.received = withTls + plain;
      let k = 0;
      const add = (result: string, dest: string, tls: boolean, reply: [number, string, string] | null, error: string | null, reached = true) => {
        attempt.run(
          `seed${i}x${k++}`,
          hour + k * 60_000,
          dest,
          reached ? `mx.${dest}` : '',
          reached ? '127.0.0.9' : '',
          tls ? 'TLSv1.3' : null,
          tls ? 'TLS_AES_256_GCM_SHA384' : null,
          tls ? 1 : null,
          result,
          reply?.[0] ?? null,
          reply?.[1] ?? null,
          reply?.[2] ?? null,
          error,
        );
        if (reached) h.connections++;
        if (reached && tls) h.outboundTls++;
      };
      const delivered = busy + (i % 3);
      for (let d = 0; d < delivered; d++) add('delivered', DESTINATIONS[d % 3] as string, !(i % 7 === 0 && d === 0), [250, '2.0.0', 'OK'], null);
      h.delivered = delivered;
      if (i % 6 === 0) {
        add(
          'transient',
          'outlook.test',
          true,
          [450, '4.2.0', 'mailbox busy, try again later'],
          'mx.outlook.test[127.0.0.9]:25: 450 4.2.0 mailbox busy, try again later (RCPT TO)',
        );
        h.deferred++;
      }
      if (i % 8 === 1) {
        add('transient', 'example.net', false, null, 'mx.example.net[127.0.0.9]:25: connection refused (ECONNREFUSED)', true);
        h.deferred++;
      }
      if (i % 24 === 5) {
        add('permanent', 'gmail.test', true, [550, '5.1.1', 'no such user'], 'mx.gmail.test[127.0.0.9]:25: 550 5.1.1 no such user (RCPT TO)');
        h.bounced++;
      }
    }
  })();
  return hours;
}
