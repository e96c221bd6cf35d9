// Measures the daemon's resident memory under the large-message attack of issue 11: N sessions
// from one address, each sending one message of SIZE MiB at once (defaults 50 × 49), then the
// delivery into the Maildir. Prints RSS at start (after a warm-up message), at the peak, when
// all is delivered and 10 s later, and the slowest greeting of a client on another address
// meanwhile. Not a test; run it inside netless (loopback only):
//   ../shared/bin/netless node scripts/measure-large.ts [N] [SIZE_MIB]
import { startSealpost } from '../test/helpers/daemon.ts';
import { MIB, greetingProbe, rss, sendLarge } from '../test/integration/large-setup.ts';

const count = Number(process.argv[2] ?? 50);
const size = Number(process.argv[3] ?? 49) * MIB;
const cleanups: (() => unknown)[] = [];
const daemon = await startSealpost({ after: (fn) => cleanups.push(fn) }, { config: { limits: { message_size: 50 * MIB, connections_per_ip: 50 } } });
try {
  const pid = daemon.pid() as number;
  await sendLarge(daemon.smtpPort, '127.0.0.2', 999, 2 * MIB, { dkimSignature: false });
  await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 60_000 });
  const start = await rss(pid);
  let peak = start;
  const sampler = setInterval(() => void rss(pid).then((r) => (peak = Math.max(peak, r)), () => undefined), 100);
  const began = Date.now();
  const probe = greetingProbe(daemon.smtpPort, '127.0.0.3');
  const sending = Promise.all(Array.from({ length: count }, (_, n) => sendLarge(daemon.smtpPort, '127.0.0.2', n, size, { dkimSignature: false })));
  await Promise.allSettled([sending]);
  const greetings = await probe.stop();
  const slowest = Math.max(...greetings);
  const sent = await sending;
  const accepted = sent.filter((s) => s.reply.startsWith('250')).length;
  const receivedAt = Date.now();
  await daemon.waitForMail(count + 1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 1_200_000 });
  const delivered = await rss(pid);
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const later = await rss(pid);
  clearInterval(sampler);
  const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;
  process.stdout.write(
    `${count} × ${size / MIB} MiB: ${accepted} accepted in ${((receivedAt - began) / 1000).toFixed(1)} s, delivered ${((Date.now() - 10_000 - receivedAt) / 1000).toFixed(1)} s later\n` +
      `RSS start ${mb(start)}, peak ${mb(peak)}, all delivered ${mb(delivered)}, 10 s later ${mb(later)} (${((later / start - 1) * 100).toFixed(0)} % above start)\n` +
      `slowest of ${greetings.length} greetings meanwhile (another address, its own process): ${slowest} ms\n`,
  );
} finally {
  for (const fn of cleanups.reverse()) await fn();
}
