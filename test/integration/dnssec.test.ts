// DNSSEC answers through real peers on loopback: nsd serves zones signed with ldns-signzone and
// unbound validates them with our root key as trust anchor (test/helpers/dnssec.ts). Our DNS client
// (dns/dnssec-resolver.ts) must report secure=true for the signed zone's A/MX/TXT/TLSA and CNAME
// chains inside it, secure=false for the unsigned delegation and for AD-less answers straight from
// nsd, SERVFAIL (typed) for the zone whose RRSIGs expired, and fall back to TCP for a TXT RRset too
// big for UDP. `sealpost status` says "DNSSEC validation: yes" through unbound, "no (…)" through a
// plain DNS server (test/helpers/dns-server.ts sets no AD).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDnssecResolver, type DnssecResolver } from '../../src/dns/dnssec-resolver.ts';
import { probeValidation } from '../../src/dns/validation-probe.ts';
import { query } from '../../src/dns/wire-client.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { type DnssecPeers, startDnssec } from '../helpers/dnssec.ts';

const HASH = 'a'.repeat(64);
/** 24 TXT records of 200 bytes: about 5 kB with RRSIGs, far over the 1232-byte UDP payload. */
const BIG = Array.from({ length: 24 }, (_, i) => `big TXT "${String(i).padStart(2, '0')}${'x'.repeat(198)}"`);

let peers: DnssecPeers;
let plain: DnsServer;
let viaUnbound: DnssecResolver;
let viaNsd: DnssecResolver;

before(
  async () => {
    peers = await startDnssec({
      zones: [
        {
          name: 'secure.test',
          signing: 'signed',
          records: [
            '@ MX 10 mx.secure.test.',
            '@ TXT "v=spf1 -all"',
            'mx A 127.0.0.2',
            `_25._tcp.mx TLSA 3 1 1 ${HASH}`,
            'alias CNAME mx.secure.test.',
            'out CNAME mx.insecure.test.',
            ...BIG,
          ],
        },
        { name: 'insecure.test', signing: 'unsigned', records: ['@ MX 10 mx.insecure.test.', 'mx A 127.0.0.3', `_25._tcp.mx TLSA 3 1 1 ${HASH}`] },
        { name: 'bogus.test', signing: 'expired', records: ['@ MX 10 mx.bogus.test.', 'mx A 127.0.0.4'] },
      ],
    });
    plain = await startDnsServer(new Map([['secure.test', { A: ['127.0.0.9'] }]]));
    viaUnbound = createDnssecResolver({ servers: [peers.resolver], timeoutMs: 5000, trustAd: false });
    viaNsd = createDnssecResolver({ servers: [peers.authority], timeoutMs: 5000, trustAd: false });
  },
  { timeout: 90_000 },
);

after(async () => {
  await peers?.close();
  await plain?.close();
});

test('a signed zone answers A, MX, TXT and TLSA with secure=true through unbound', { timeout: 30_000 }, async () => {
  assert.deepEqual(await viaUnbound.resolve4('mx.secure.test'), { kind: 'records', records: ['127.0.0.2'], secure: true });
  assert.deepEqual(await viaUnbound.resolveMx('secure.test'), { kind: 'records', records: [{ exchange: 'mx.secure.test', preference: 10 }], secure: true });
  assert.deepEqual(await viaUnbound.resolveTxt('secure.test'), { kind: 'records', records: ['v=spf1 -all'], secure: true });
  assert.deepEqual(await viaUnbound.resolveTlsa('_25._tcp.mx.secure.test'), {
    kind: 'records',
    records: [{ usage: 3, selector: 1, matchingType: 1, data: HASH }],
    secure: true,
  });
  // Authenticated denial (NSEC): a secure NODATA and a secure NXDOMAIN.
  assert.deepEqual(await viaUnbound.resolveTlsa('_25._tcp.secure.test'), { kind: 'nxdomain', secure: true });
  assert.deepEqual(await viaUnbound.resolve6('mx.secure.test'), { kind: 'nodata', secure: true });
});

test('a CNAME chain is secure only when every link is', { timeout: 30_000 }, async () => {
  assert.deepEqual(await viaUnbound.resolve4('alias.secure.test'), { kind: 'records', records: ['127.0.0.2'], secure: true, canonical: 'mx.secure.test' });
  assert.deepEqual(await viaUnbound.resolve4('out.secure.test'), { kind: 'records', records: ['127.0.0.3'], secure: false, canonical: 'mx.insecure.test' });
});

test('an unsigned delegation answers with secure=false', { timeout: 30_000 }, async () => {
  assert.deepEqual(await viaUnbound.resolve4('mx.insecure.test'), { kind: 'records', records: ['127.0.0.3'], secure: false });
  assert.deepEqual(await viaUnbound.resolveTlsa('_25._tcp.mx.insecure.test'), {
    kind: 'records',
    records: [{ usage: 3, selector: 1, matchingType: 1, data: HASH }],
    secure: false,
  });
});

test('expired signatures are bogus: a typed SERVFAIL, never records', { timeout: 30_000 }, async () => {
  const mx = await viaUnbound.resolveMx('bogus.test');
  assert.equal(mx.kind, 'servfail', JSON.stringify(mx));
  assert.equal((await viaUnbound.resolve4('mx.bogus.test')).kind, 'servfail');
  // The same zone straight from nsd has records, but no AD: not secure.
  assert.deepEqual(await viaNsd.resolve4('mx.bogus.test'), { kind: 'records', records: ['127.0.0.4'], secure: false });
});

test('an answer too big for UDP is fetched again over TCP', { timeout: 30_000 }, async () => {
  const udp = await query([{ host: '127.0.0.1', port: Number(peers.resolver.split(':')[1]) }], 'big.secure.test', 'TXT', 5000);
  assert.equal(udp.kind, 'response');
  assert.equal(udp.kind === 'response' && udp.tcp, true, 'the UDP answer was truncated, so the answer came over TCP');
  const txt = await viaUnbound.resolveTxt('big.secure.test');
  assert.equal(txt.kind, 'records');
  assert.equal(txt.kind === 'records' && txt.records.length, 24);
  assert.equal(txt.kind === 'records' && txt.secure, true);
});

test('the start-up probe: validation works through unbound, not through a plain DNS server', { timeout: 30_000 }, async () => {
  const yes = await probeValidation(viaUnbound.servers, false, 3000);
  assert.equal(yes.validating, true, yes.why);
  const no = await probeValidation(createDnssecResolver({ servers: [plain.address], timeoutMs: 1000, trustAd: false }).servers, false, 1000);
  assert.equal(no.validating, false);
  assert.match(no.why, /root DNSKEY/);
});

test('sealpost status shows "DNSSEC validation: yes" with the local unbound and "no (…)" with a plain DNS server', { timeout: 60_000 }, async (t) => {
  const withUnbound = await startSealpost(t, { config: { dns: { servers: [peers.resolver], timeout_ms: 2000 } } });
  const logged = await withUnbound.waitForLog({ event: 'daemon', state: 'dnssec' }, { timeoutMs: 10_000 });
  assert.equal(logged['validating'], true, JSON.stringify(logged));
  const yes = await withUnbound.cli(['status']);
  assert.match(yes.stdout, /^DNSSEC validation: yes \(resolver 127\.0\.0\.1:\d+ validates/m, yes.stdout + yes.stderr);
  assert.match(yes.stdout, /^DANE: on \(outbound\.tls_default = "dane"\)$/m, yes.stdout);
  await withUnbound.stop();
  const withPlain = await startSealpost(t, { config: { dns: { servers: [plain.address], timeout_ms: 1000 } } });
  assert.equal((await withPlain.waitForLog({ event: 'daemon', state: 'dnssec' }, { timeoutMs: 10_000 }))['validating'], false);
  const no = await withPlain.cli(['status']);
  assert.match(no.stdout, /^DNSSEC validation: no \(resolver 127\.0\.0\.1:\d+ answered the root DNSKEY query with NXDOMAIN\)/m, no.stdout + no.stderr);
  // DANE stays off, logged once with the reason, and status says why.
  assert.match(no.stdout, /^DANE: off \(no DNSSEC validation: resolver 127\.0\.0\.1:\d+ answered the root DNSKEY query with NXDOMAIN\)$/m, no.stdout);
  const off = await withPlain.waitForLog({ event: 'daemon', state: 'dane' }, { timeoutMs: 10_000 });
  assert.equal(off['on'], false);
  assert.match(String(off['why']), /NXDOMAIN/);
});
