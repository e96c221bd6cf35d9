// The end-of-data → 250 time and the CPU per message with the inbound checks on (a
// micro-measurement, not a timed test, not part of bench/bench): one Sealpost per --root (this
// tree by default; another checkout's to compare; --unchecked: the first once more with the checks
// off, what they add) and a DNS server with the sender's SPF, DKIM key
// and DMARC records; bench/load.ts sends one message per connection over --sessions sessions
// (default 1), unsigned or DKIM-signed, at C=1 the final dot --dot-apart-ms after the body, in
// batches that alternate between the daemons, who goes first too (so outside load falls on each
// alike). Prints one JSON line per case, concurrency and daemon: the median over the batches of
// each batch's p50 and p90, and CPU per message (whole daemon, event loop alone). Opens loopback
// sockets only; run it in netless:
//   ../shared/bin/netless node bench/eod.ts [--root DIR …] [--unchecked] [--sessions 1,20] [--batches 10] [--batch 30] [--size 10240] [--dot-apart-ms 5]
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
    sessions: { type: 'string', default: '1' },
    batches: { type: 'string', default: '10' },
    batch: { type: 'string', default: '30' },
    size: { type: 'string', default: '10240' },
    'dot-apart-ms': { type: 'string', default: '5' },
    unchecked: { type: 'boolean', default: false },
  },
});
const rsa = generateDkimKey('rsa-2048');
const ed = generateDkimKey('ed25519');
const SENDER = 'load.test';
const dns = await startDnsServer(
  new Map([
    [SENDER, { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }],
    [`rsa._domainkey.${SENDER}`, { TXT: [dkimRecord(rsa)] }],
    [`ed._domainkey.${SENDER}`, { TXT: [dkimRecord(ed)] }],
    [`_dmarc.${SENDER}`, { TXT: ['v=DMARC1; p=reject'] }],
  ]),
);
const work = mkdtempSync(path.join(tmpdir(), 'sealpost-eod-'));
const cleanups: (() => unknown)[] = [];
try {
  const daemons = [];
  // --unchecked: the first root once more with the checks off, what the checks add.
  const runs = [
    ...values.root.map((root) => ({ root, name: root, checks: true })),
    ...(values.unchecked ? [{ root: values.root[0] as string, name: `${values.root[0]} (checks off)`, checks: false }] : []),
  ];
  for (const [i, run] of runs.entries()) {
    daemons.push(
      await startSealpost({ after: (fn) => cleanups.push(fn) }, run.root, {
        dir: path.join(work, `sealpost-${i}`),
        port: await freePort(),
        dns: dns.address,
        sinkPort: await freePort(),
        relay: false,
        ...(run.checks ? {} : { authChecks: false }),
      }),
    );
  }
  const oneRsa: DkimSigning[] = [{ domain: SENDER, selector: 'rsa', privateKey: rsa, canonicalization: 'relaxed/relaxed' }];
  const cases: { label: string; dkim?: DkimSigning[]; apart: boolean }[] = [
    { label: 'unsigned', apart: true },
    { label: 'DKIM rsa relaxed', dkim: oneRsa, apart: true },
    {
      label: 'DKIM rsa relaxed + ed25519 simple',
      dkim: [...oneRsa, { domain: SENDER, selector: 'ed', privateKey: ed, canonicalization: 'simple/simple' }],
      apart: true,
    },
    { label: 'DKIM rsa relaxed, dot in the same write', dkim: oneRsa, apart: false },
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
      ...(c.apart && sessions === 1 ? { dotApartMs: Number(values['dot-apart-ms']) } : {}),
    });
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  // A few messages first: mailauth loaded in the offload thread, the DNS answers cached, the JIT warm.
  for (const c of cases) for (const d of daemons) await load(c, d.port, 1, 30);
  for (const sessions of values.sessions.split(',').map(Number)) {
    // Above C=1 a batch is ten times the messages, so that it lasts about as long.
    const batch = Number(values.batch) * (sessions === 1 ? 1 : 10);
    for (const c of cases) {
      if (sessions > 1 && !c.apart) continue; // the dot comes with the body in every case above C=1
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
            root: runs[i]?.name,
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
