// Where the DKIM body hash of an arriving message costs least (a micro-measurement, not a timed
// test): the event loop's time per message to hash the body itself (in the session) against
// posting its chunks to the offload thread (offload/client.ts feed()), and the check's time at
// the end of DATA with the body hashed while it arrived (mailauth/streaming.ts) against hashing
// it then (dkimVerify of the whole message), also for a spooled 4 MiB body. Loopback DNS only; a
// temp file.
//   node bench/feed-cost.ts [messages] [bodyBytes]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dkimSign, dkimVerify } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../src/dkim/keys.ts';
import { startStreamedDkim } from '../src/mailauth/streaming.ts';
import { startOffloadThread } from '../src/offload/client.ts';
import { startDnsServer } from '../test/helpers/dns-server.ts';

const N = Number(process.argv[2] ?? 2000);
const SIZE = Number(process.argv[3] ?? 10240);
const key = generateDkimKey('rsa-2048');
const line = `${'X'.repeat(78)}\r\n`;
const unsigned = `From: <bench@load.test>\r\nTo: <bench@sealpost.test>\r\nSubject: cost\r\nMessage-ID: <c1@load.test>\r\n\r\n${line.repeat(Math.floor(SIZE / line.length))}`;
const options = { signatureData: [{ signingDomain: 'load.test', selector: 'rsa', privateKey: key, canonicalization: 'relaxed/relaxed' }] };
const message = Buffer.from((await dkimSign(unsigned, options as Parameters<typeof dkimSign>[1])).signatures + unsigned);
// As a socket delivers it: two reads.
const half = Math.floor(message.length / 2);
const chunks = [message.subarray(0, half), message.subarray(half)];
const record = dkimRecord(key);
const resolver = async (name: string, type: string) => {
  if (type === 'TXT' && name === 'rsa._domainkey.load.test') return [[record]];
  throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
};

const usPer = (ms: number) => Math.round((ms / N) * 1000 * 10) / 10;
/** This thread's CPU time, ms (the offload thread runs beside it on the other core). */
const cpuMs = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1000;
};

// 1. In the session: mailauth's relaxed body hash on the event loop, chunk by chunk.
const requireMailauth = createRequire(createRequire(import.meta.url).resolve('mailauth'));
const { dkimBody } = requireMailauth('./dkim/body/index.js') as {
  dkimBody(c: string, hash: string, max: number | ''): { update(b: Buffer): void; digest(enc: string): string };
};
const body = message.subarray(message.indexOf('\r\n\r\n') + 4);
let t = cpuMs();
for (let i = 0; i < N; i++) {
  const h = dkimBody('relaxed', 'sha256', '');
  h.update(body.subarray(0, half));
  h.update(body.subarray(half));
  h.digest('base64');
}
const inSession = cpuMs() - t;

// 2. To the thread: the event loop's part is the copy and postMessage of each chunk.
const offload = startOffloadThread({
  verify: { hostname: 'mx.bench.test', dns: { servers: ['127.0.0.1:9'], timeoutMs: 500 }, dmarcReject: false, timeoutMs: 5000 },
});
const feed = offload.feed;
if (!feed) throw new Error('no feed');
t = cpuMs();
for (let i = 0; i < N; i++) {
  const f = feed('bench@load.test');
  for (const c of chunks) f.push(c);
  f.drop();
  // As sessions do: the thread reads each message before the next comes.
  if (i % 20 === 19) await new Promise((resolve) => setTimeout(resolve, 1));
}
const toThread = cpuMs() - t;
await offload.close();

// 3. The check at the end of DATA: whole, or with the body hashed as it arrived.
const settle = () => new Promise((resolve) => setImmediate(resolve));
let whole = 0;
let streamed = 0;
for (let i = 0; i < N; i++) {
  t = performance.now();
  await dkimVerify(message, { resolver, sender: 'bench@load.test' } as Parameters<typeof dkimVerify>[1]);
  whole += performance.now() - t;
  const s = startStreamedDkim({ resolver: resolver as Parameters<typeof startStreamedDkim>[0]['resolver'], sender: 'bench@load.test' });
  for (const c of chunks) s.push(c);
  await settle();
  t = performance.now();
  await s.finish({ header: message.subarray(0, message.indexOf('\r\n\r\n') + 4), size: message.length });
  streamed += performance.now() - t;
}

// 4. Through the offload thread as a session uses it (one message at a time, the body fed
// FEED_GAP_MS before the check, as the final dot comes after the body): the check's time and the
// CPU per message of the whole process (both threads), fed or not.
const dns = await startDnsServer(new Map([['rsa._domainkey.load.test', { TXT: [record] }]]));
const thread = startOffloadThread({
  verify: { hostname: 'mx.bench.test', dns: { servers: [dns.address], timeoutMs: 2000 }, dmarcReject: false, timeoutMs: 5000 },
});
const input = { message, ip: '127.0.0.1', helo: 'out.load.test', sender: 'bench@load.test' };
const through = { whole: { us: 0, cpu: 0, total: 0 }, fed: { us: 0, cpu: 0, total: 0 } };
const FEED_GAP_MS = 2;
const M = Math.min(N, 500);
for (let i = 0; i < M + 50; i++) {
  for (const mode of ['whole', 'fed'] as const) {
    const all = process.cpuUsage();
    const f = mode === 'fed' ? thread.feed?.('bench@load.test') : undefined;
    for (const c of chunks) f?.push(c);
    await new Promise((resolve) => setTimeout(resolve, FEED_GAP_MS));
    const cpu = process.cpuUsage();
    t = performance.now();
    const verdict = await thread.verify?.(input, f);
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    const usedAll = process.cpuUsage(all);
    if (verdict?.results.dkim !== 'pass') throw new Error(`dkim ${verdict?.results.dkim}: ${verdict?.error}`);
    if (i < 50) continue; // warm-up: mailauth loaded, the key cached
    through[mode].us += ms * 1000;
    through[mode].cpu += (used.user + used.system) / 1000;
    through[mode].total += (usedAll.user + usedAll.system) / 1000;
  }
}
const per = (v: number) => Math.round((v / M) * 10) / 10;

// 5. A body large enough for the spool (4 MiB): checked whole from its file at the end of DATA,
// or fed as it arrived (64 KiB at a time, waiting when the thread asks): the check's time and the
// CPU per message of the whole process.
const bigText = `From: <bench@load.test>\r\nTo: <bench@sealpost.test>\r\nSubject: big\r\n\r\n${line.repeat(52_000)}`;
const big = Buffer.from((await dkimSign(bigText, options as Parameters<typeof dkimSign>[1])).signatures + bigText);
const bigHeader = big.subarray(0, big.indexOf('\r\n\r\n') + 4);
const dir = mkdtempSync(path.join(tmpdir(), 'sealpost-feed-cost-'));
writeFileSync(path.join(dir, 'm'), big);
const spooled = { kind: 'spooled' as const, prefix: Buffer.from(bigHeader), file: path.join(dir, 'm'), offset: bigHeader.length, size: big.length };
const large = { whole: { ms: 0, cpu: 0 }, fed: { ms: 0, cpu: 0 } };
const L = 10;
for (let i = 0; i < L + 2; i++) {
  for (const mode of ['whole', 'fed'] as const) {
    const cpu = process.cpuUsage();
    const f = mode === 'fed' ? thread.feed?.('bench@load.test') : undefined;
    for (let at = 0; f && at < big.length; at += 64 * 1024) {
      if (!f.push(big.subarray(at, at + 64 * 1024))) await new Promise<void>((resolve) => f.onDrain(resolve));
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
    t = performance.now();
    const verdict = await thread.verify?.({ ...input, message: spooled }, f);
    const ms = performance.now() - t;
    const used = process.cpuUsage(cpu);
    if (verdict?.results.dkim !== 'pass') throw new Error(`dkim ${verdict?.results.dkim}: ${verdict?.error}`);
    if (i < 2) continue;
    large[mode].ms += ms;
    large[mode].cpu += (used.user + used.system) / 1000;
  }
}
rmSync(dir, { recursive: true, force: true });
await thread.close();
await dns.close();
const perLarge = (v: number) => Math.round((v / L) * 10) / 10;

process.stdout.write(
  `${JSON.stringify({
    messages: N,
    messageBytes: message.length,
    loopUsPerMessage: { hashInSession: usPer(inSession), feedToThread: usPer(toThread) },
    checkAtEndOfDataUs: { whole: usPer(whole), bodyHashedBefore: usPer(streamed) },
    throughTheThread: {
      checkUs: { whole: per(through.whole.us), fed: per(through.fed.us) },
      processCpuUsDuringCheck: { whole: per(through.whole.cpu * 1000), fed: per(through.fed.cpu * 1000) },
      processCpuUsPerMessage: { whole: per(through.whole.total * 1000), fed: per(through.fed.total * 1000) },
    },
    spooled4MiB: {
      checkMs: { whole: perLarge(large.whole.ms), fed: perLarge(large.fed.ms) },
      processCpuMsPerMessage: { whole: perLarge(large.whole.cpu), fed: perLarge(large.fed.cpu) },
    },
  })}\n`,
);
