// CPU per inbound message and the end-of-data → 250 time with the inbound checks on (a
// micro-measurement, not a timed test, not part of bench/bench): one Sealpost per --root (this tree
// by default; another checkout's to compare, e.g. --root ../main --root .) and a DNS server with
// the sender's SPF, DKIM key and DMARC records. For each case (unsigned, DKIM rsa-signed) and each
// concurrency (--sessions, default 20 and 1) bench/load.ts sends batches that alternate between
// the daemons, so outside load falls on each alike. Prints one JSON line per case, concurrency and
// daemon: CPU ms per message (whole daemon, event loop alone) and the median over the batches of
// each batch's end-of-data p50 and p90. Loopback sockets only; run it in netless:
//   ../shared/bin/netless node bench/inbound-cost.ts [--root DIR …] [--sessions 20,1] [--batches 6] [--batch 200] [--size 10240]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { dkimRecord, generateDkimKey } from '../src/dkim/keys.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';
import { freePort } from '../test/helpers/ports.ts';
import { type DkimSigning, runLoad } from './load.ts';
import { SEALPOST_MAILBOX, startSealpost } from './sealpost.ts';

const { values } = parseArgs({
  options: {
    root: { type: 'string', multiple: true, default: [path.resolve(import.meta.dirname, '..')] },
    sessions: { type: 'string', default: '20,1' },
    batches: { type: 'string', default: '6' },
    batch: { type: 'string', default: '200' },
    size: { type: 'string', default: '10240' },
  },
});
const rsa = generateDkimKey('rsa-2048');
const SENDER = 'load.test';
const dns = await startDnsServer(
  new Map([
    [SENDER, { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }],
    [`rsa._domainkey.${SENDER}`, { TXT: [dkimRecord(rsa)] }],
    [`_dmarc.${SENDER}`, { TXT: ['v=DMARC1; p=reject'] }],
  ]),
);
const work = mkdtempSync(path.join(tmpdir(), 'sealpost-inbound-cost-'));
const cleanups: (() => unknown)[] = [];
try {
  const daemons = [];
  for (const [i, root] of values.root.entries()) {
    daemons.push(
      await startSealpost({ after: (fn) => cleanups.push(fn) }, root, {
        dir: path.join(work, `sealpost-${i}`),
        port: await freePort(),
        dns: dns.address,
        sinkPort: await freePort(),
        relay: false,
      }),
    );
  }
  const cases: { label: string; dkim?: DkimSigning[] }[] = [
    { label: 'unsigned' },
    { label: 'DKIM rsa relaxed', dkim: [{ domain: SENDER, selector: 'rsa', privateKey: rsa, canonicalization: 'relaxed/relaxed' }] },
  ];
  const load = (c: (typeof cases)[number], port: number, sessions: number, messages: number) =>
    runLoad({
      host: '127.0.0.1',
      port,
      sessions,
      messages,
      size: Number(values.size),
      from: `bench@${SENDER}`,
      to: SEALPOST_MAILBOX,
      groups: 'X25519',
      helo: `out.${SENDER}`,
      timeoutMs: 30_000,
      ...(c.dkim ? { dkim: c.dkim } : {}),
      // At C=1 the dot comes apart from the body (as across a network): the time is the end of DATA's work alone.
      ...(sessions === 1 ? { dotApartMs: 5 } : {}),
    });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  // A few messages first: mailauth loaded in the offload thread, the DNS answers cached, the JIT warm.
  for (const c of cases) for (const d of daemons) await load(c, d.port, 20, 200);
  for (const sessions of values.sessions.split(',').map(Number)) {
    // C=1 is slow (a connection per message, the dot apart): a tenth of the messages.
    const batch = sessions === 1 ? Math.max(10, Math.round(Number(values.batch) / 10)) : Number(values.batch);
    for (const c of cases) {
      const seen = daemons.map(() => ({ p50: [] as number[], p90: [] as number[], messages: 0, errors: 0, cpu: 0, loop: 0 }));
      for (let b = 0; b < Number(values.batches); b++) {
        // Who goes first alternates from batch to batch.
        const order = b % 2 === 0 ? [...daemons.entries()] : [...daemons.entries()].reverse();
        for (const [i, d] of order) {
          const s = seen[i] as (typeof seen)[number];
          const cpu = d.cpuMs();
          const loop = d.loopCpuMs();
          const r = await load(c, d.port, sessions, batch);
          s.cpu += d.cpuMs() - cpu;
          s.loop += d.loopCpuMs() - loop;
          s.messages += r.messages;
          s.errors += r.errors;
          if (r.eodMs) {
            s.p50.push(r.eodMs.p50);
            s.p90.push(r.eodMs.p90);
          }
        }
      }
      for (const [i, s] of seen.entries()) {
        const per = (ms: number) => round(ms / Math.max(1, s.messages));
        process.stdout.write(
          `${JSON.stringify({
            case: c.label,
            sessions,
            root: values.root[i],
            messages: s.messages,
            errors: s.errors,
            eodMs: { p50: round(median(s.p50)), p90: round(median(s.p90)) },
            // CPU per message: the whole daemon (all threads) and its event loop alone.
            cpuMsPerMessage: { all: per(s.cpu), loop: per(s.loop) },
          })}\n`,
        );
      }
    }
  }
} finally {
  for (const fn of cleanups.reverse()) await fn();
  await dns.close();
  rmSync(work, { recursive: true, force: true });
}
