// Table tests of the doctor's checks: a good set of facts, then one change per row, and the
// finding (id, level, fix) each change must produce.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countLookups } from '../../../src/doctor/checks/spf.ts';
import { runChecks } from '../../../src/doctor/families.ts';
import { type DoctorFacts, exitCode } from '../../../src/doctor/findings.ts';
import type { CertSummary } from '../../../src/tlscheck/chain.ts';

const NOW = Date.parse('2026-12-02T00:00:00Z');
const DKIM = 'v=DKIM1; k=ed25519; p=AAAA';
const leaf = (over: Partial<CertSummary> = {}): CertSummary => ({
  subject: 'CN=mx.example.org',
  commonName: 'mx.example.org',
  dnsNames: ['mx.example.org'],
  issuer: "CN=R11, O=Let's Encrypt",
  notBefore: '2026-11-01T00:00:00Z',
  notAfter: '2027-01-30T00:00:00Z',
  selfIssued: false,
  serial: '01',
  fingerprint256: 'AA',
  ...over,
});

const TLS_OK = { starttlsOffered: true, handshake: 'ok', version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } as const;
const relay = (f: DoctorFacts) => f.smarthosts![0]!;

function good(): DoctorFacts {
  return {
    hostname: 'mx.example.org',
    addresses: ['203.0.113.7', '2001:db8::7'],
    addressSource: 'config',
    hostA: { kind: 'records', records: ['203.0.113.7'] },
    hostAaaa: { kind: 'records', records: ['2001:db8::7'] },
    ptr: [
      {
        ip: '203.0.113.7',
        names: { kind: 'records', records: ['mx.example.org'] },
        forward: { 'mx.example.org': { kind: 'records', records: ['203.0.113.7'] } },
      },
      {
        ip: '2001:db8::7',
        names: { kind: 'records', records: ['mx.example.org'] },
        forward: { 'mx.example.org': { kind: 'records', records: ['2001:0db8:0:0::7'] } },
      },
    ],
    domains: [
      {
        name: 'example.org',
        mx: { kind: 'records', records: [{ exchange: 'mx.example.org', preference: 10 }] },
        mxHosts: [{ name: 'mx.example.org', cname: { kind: 'nodata' }, a: { kind: 'records', records: ['203.0.113.7'] }, aaaa: { kind: 'nodata' } }],
        txt: { kind: 'records', records: ['v=spf1 mx -all', 'google-site-verification=x'] },
        spfTree: {},
        spfResults: [
          { ip: '203.0.113.7', result: 'pass', comment: '' },
          { ip: '2001:db8::7', result: 'pass', comment: '' },
        ],
        dkim: [{ selector: 'ed1', expected: { ok: true, record: DKIM }, published: { kind: 'records', records: [DKIM] } }],
        dmarc: { kind: 'records', records: ['v=DMARC1; p=none; rua=mailto:dmarc@example.org'] },
        localParts: ['admin', 'postmaster', 'dmarc'],
        ourDomains: ['example.org'],
      },
    ],
    certs: [{ listener: 'smtp', address: '127.0.0.1:25', probe: { kind: 'tls', authorized: true, leaf: leaf() } }],
    acme: {
      enabled: true,
      directory: 'https://acme-v02.api.letsencrypt.org/directory',
      caa: { at: 'example.org', records: { kind: 'records', records: ['0 issue "letsencrypt.org"'] } },
    },
    dnsbl: [{ subject: '203.0.113.7', zone: 'zen.spamhaus.org', answer: { kind: 'nxdomain' } }],
    port25: { kind: 'connected', target: 'gmail.com', ip: '192.0.2.25:25', ms: 40 },
    smarthosts: [
      {
        via: 'relay',
        nexthop: 'smtps:[smtp.provider.example]:465',
        host: 'smtp.provider.example',
        port: 465,
        level: 'verify',
        username: 'me@provider.example',
        passwordFile: '/etc/sealpost/relay.password',
        result: { stage: 'done', ip: '192.0.2.50', tls: TLS_OK, authenticated: true, source: '203.0.113.7' },
      },
    ],
    now: NOW,
  };
}

type Row = [name: string, change: (f: DoctorFacts) => void, id: string, level: 'error' | 'warning', fix: RegExp];
const d0 = (f: DoctorFacts) => f.domains[0]!;

const ROWS: Row[] = [
  [
    'a private address',
    (f) => {
      f.addresses = ['10.0.0.7'];
    },
    'host.not-public',
    'error',
    /doctor\.addresses/,
  ],
  [
    'no A/AAAA for the hostname',
    (f) => {
      f.hostA = { kind: 'nxdomain' };
      f.hostAaaa = { kind: 'nxdomain' };
    },
    'host.missing',
    'error',
    /publish mx\.example\.org\. IN A 203\.0\.113\.7 and mx\.example\.org\. IN AAAA 2001:db8::7/,
  ],
  [
    'an A record that is not ours',
    (f) => {
      f.hostA = { kind: 'records', records: ['203.0.113.7', '198.51.100.1'] };
    },
    'host.foreign-address',
    'error',
    /remove 198\.51\.100\.1/,
  ],
  [
    'our AAAA not published',
    (f) => {
      f.hostAaaa = { kind: 'nodata' };
    },
    'host.address-missing',
    'error',
    /publish mx\.example\.org\. IN AAAA 2001:db8::7/,
  ],
  [
    'no PTR (IPv4)',
    (f) => {
      f.ptr[0]!.names = { kind: 'nxdomain' };
    },
    'ptr.missing',
    'error',
    /^set the PTR of 203\.0\.113\.7 \(7\.113\.0\.203\.in-addr\.arpa\) to mx\.example\.org at your hosting provider$/,
  ],
  [
    'no PTR (IPv6)',
    (f) => {
      f.ptr[1]!.names = { kind: 'nxdomain' };
    },
    'ptr.missing',
    'error',
    /send over IPv4 only \(outbound\.address_family = "ipv4"\) until it is set, or from an IPv6 address that has one \(outbound\.source_ipv6\)/,
  ],
  [
    'PTR not forward-confirmed',
    (f) => {
      f.ptr[0]!.forward = { 'mx.example.org': { kind: 'records', records: ['198.51.100.1'] } };
    },
    'ptr.not-confirmed',
    'error',
    /publish mx\.example\.org\. IN A 203\.0\.113\.7/,
  ],
  [
    'PTR names another host',
    (f) =>
      void ((f.ptr[0]!.names = { kind: 'records', records: ['vps-1.hoster.example'] }),
      (f.ptr[0]!.forward = { 'vps-1.hoster.example': { kind: 'records', records: ['203.0.113.7'] } })),
    'ptr.other-name',
    'warning',
    /set the PTR of 203\.0\.113\.7/,
  ],
  [
    'no MX',
    (f) => {
      d0(f).mx = { kind: 'nodata' };
    },
    'mx.missing',
    'error',
    /publish example\.org\. IN MX 10 mx\.example\.org\./,
  ],
  [
    'null MX',
    (f) => {
      d0(f).mx = { kind: 'records', records: [{ exchange: '', preference: 0 }] };
    },
    'mx.null',
    'error',
    /replace it with example\.org\. IN MX 10 mx\.example\.org\./,
  ],
  [
    'MX elsewhere',
    (f) => {
      d0(f).mx = { kind: 'records', records: [{ exchange: 'mx.other.example', preference: 10 }] };
    },
    'mx.elsewhere',
    'error',
    /publish example\.org\. IN MX 10 mx\.example\.org\./,
  ],
  [
    'CNAME at the MX host',
    (f) => {
      d0(f).mxHosts[0]!.cname = { kind: 'records', records: ['box.hoster.example'] };
    },
    'mx.cname',
    'error',
    /replace the CNAME of mx\.example\.org with A\/AAAA records/,
  ],
  [
    'another MX preferred',
    (f) =>
      void (d0(f).mx = {
        kind: 'records',
        records: [
          { exchange: 'mx.example.org', preference: 20 },
          { exchange: 'backup.example', preference: 10 },
        ],
      }),
    'mx.not-preferred',
    'warning',
    /lower the preference/,
  ],
  [
    'no SPF',
    (f) => {
      d0(f).txt = { kind: 'records', records: ['google-site-verification=x'] };
    },
    'spf.missing',
    'error',
    /publish example\.org\. IN TXT "v=spf1 mx ip4:203\.0\.113\.7 ip6:2001:db8::7 -all"/,
  ],
  [
    'two SPF records',
    (f) => {
      d0(f).txt = { kind: 'records', records: ['v=spf1 mx -all', 'v=spf1 a -all'] };
    },
    'spf.multiple',
    'error',
    /merge them into one/,
  ],
  [
    'SPF without our IP',
    (f) => {
      d0(f).spfResults[0] = { ip: '203.0.113.7', result: 'fail', comment: 'not permitted' };
    },
    'spf.not-authorized',
    'error',
    /add ip4:203\.0\.113\.7 \(or mx\)/,
  ],
  [
    'SPF ending in +all',
    (f) => {
      d0(f).txt = { kind: 'records', records: ['v=spf1 mx +all'] };
    },
    'spf.weak-all',
    'warning',
    /end it with -all/,
  ],
  [
    'SPF ending in ?all',
    (f) => {
      d0(f).txt = { kind: 'records', records: ['v=spf1 mx ?all'] };
    },
    'spf.weak-all',
    'warning',
    /end it with -all/,
  ],
  [
    'SPF over 10 lookups',
    (f) =>
      void ((d0(f).txt = { kind: 'records', records: ['v=spf1 include:a.example include:b.example -all'] }),
      (d0(f).spfTree = {
        'a.example': 'v=spf1 a mx ptr exists:x.example include:c.example -all',
        'b.example': 'v=spf1 a mx a:1.example a:2.example -all',
        'c.example': 'v=spf1 mx -all',
      })),
    'spf.too-many-lookups',
    'error',
    /flatten the includes/,
  ],
  [
    'DKIM record missing',
    (f) => {
      d0(f).dkim[0]!.published = { kind: 'nxdomain' };
    },
    'dkim.missing',
    'error',
    /publish ed1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=AAAA"/,
  ],
  [
    'DKIM key mismatch',
    (f) => {
      d0(f).dkim[0]!.published = { kind: 'records', records: ['v=DKIM1; k=ed25519; p=BBBB'] };
    },
    'dkim.mismatch',
    'error',
    /replace the record with ed1\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=AAAA"/,
  ],
  [
    'DKIM key unreadable',
    (f) => {
      d0(f).dkim[0]!.expected = { ok: false, reason: 'cannot read x: ENOENT' };
    },
    'dkim.key-unreadable',
    'error',
    /sealpost dkim keygen --domain example\.org --selector ed1/,
  ],
  [
    'DMARC missing',
    (f) => {
      d0(f).dmarc = { kind: 'nxdomain' };
    },
    'dmarc.missing',
    'error',
    /publish _dmarc\.example\.org\. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example\.org"/,
  ],
  [
    'DMARC without p=',
    (f) => {
      d0(f).dmarc = { kind: 'records', records: ['v=DMARC1; rua=mailto:dmarc@example.org'] };
    },
    'dmarc.no-policy',
    'error',
    /publish _dmarc/,
  ],
  [
    'DMARC without rua',
    (f) => {
      d0(f).dmarc = { kind: 'records', records: ['v=DMARC1; p=reject'] };
    },
    'dmarc.no-rua',
    'warning',
    /add rua=mailto:postmaster@example\.org/,
  ],
  [
    'DMARC rua to a local part that does not exist',
    (f) => {
      d0(f).dmarc = { kind: 'records', records: ['v=DMARC1; p=none; rua=mailto:reports@example.org'] };
    },
    'dmarc.rua-unknown',
    'error',
    /add reports to the mailboxes or aliases of example\.org/,
  ],
  [
    'no DKIM: DMARC only by SPF',
    (f) => {
      d0(f).dkim = [];
    },
    'dmarc.unaligned',
    'warning',
    /sealpost dkim keygen --domain example\.org --selector s2026/,
  ],
  [
    'not running',
    (f) => {
      f.certs[0]!.probe = { kind: 'down', detail: 'ECONNREFUSED' };
    },
    'cert.not-running',
    'warning',
    /start Sealpost/,
  ],
  [
    'expired certificate',
    (f) => {
      f.certs[0]!.probe = { kind: 'tls', authorized: false, code: 'CERT_HAS_EXPIRED', leaf: leaf({ notAfter: '2026-11-30T00:00:00Z' }) };
    },
    'cert.expired',
    'error',
    /sealpost certs/,
  ],
  [
    'certificate for another name',
    (f) =>
      void (f.certs[0]!.probe = {
        kind: 'tls',
        authorized: true,
        leaf: leaf({ dnsNames: ['www.example.org'] }),
        nameError: 'certificate is valid for www.example.org, not mx.example.org',
      }),
    'cert.name',
    'error',
    /sealpost certs/,
  ],
  [
    'self-signed, ACME off',
    (f) =>
      void ((f.acme = { enabled: false, directory: '' }),
      (f.certs[0]!.probe = { kind: 'tls', authorized: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT', leaf: leaf({ selfIssued: true }) })),
    'cert.unverified',
    'error',
    /turn on \[acme\]/,
  ],
  [
    'self-signed while ACME has not issued yet',
    (f) => {
      f.certs[0]!.probe = { kind: 'tls', authorized: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT', leaf: leaf({ selfIssued: true }) };
    },
    'cert.unverified',
    'warning',
    /ACME has not issued one yet/,
  ],
  [
    'expiring in 5 days',
    (f) => {
      f.certs[0]!.probe = { kind: 'tls', authorized: true, leaf: leaf({ notAfter: '2026-12-07T12:00:00Z' }) };
    },
    'cert.expiring',
    'warning',
    /sealpost certs/,
  ],
  [
    'ACME failing',
    (f) => {
      f.acme.lastError = 'urn:ietf:params:acme:error:connection: port 80 timed out';
    },
    'acme.failing',
    'error',
    /sealpost certs renew --config FILE/,
  ],
  [
    'no CAA',
    (f) => {
      f.acme.caa = { at: 'mx.example.org', records: { kind: 'nodata' } };
    },
    'caa.missing',
    'warning',
    /publish mx\.example\.org\. IN CAA 0 issue "letsencrypt\.org"/,
  ],
  [
    'CAA for another CA',
    (f) => {
      f.acme.caa = { at: 'example.org', records: { kind: 'records', records: ['0 issue "digicert.com"'] } };
    },
    'caa.other-ca',
    'error',
    /add mx\.example\.org\. IN CAA 0 issue "letsencrypt\.org"/,
  ],
  [
    'listed in a DNSBL',
    (f) => {
      f.dnsbl[0]!.answer = { kind: 'records', records: ['127.0.0.2'] };
    },
    'dnsbl.listed',
    'error',
    /delisting form/,
  ],
  [
    'Spamhaus: public resolver',
    (f) => {
      f.dnsbl[0]!.answer = { kind: 'records', records: ['127.255.255.254'] };
    },
    'dnsbl.unknown',
    'warning',
    /use a local resolver/,
  ],
  [
    'DNSBL lookup timed out',
    (f) => {
      f.dnsbl[0]!.answer = { kind: 'timeout', detail: 'x' };
    },
    'dnsbl.unknown',
    'warning',
    /use a local resolver/,
  ],
  [
    'port 25 blocked',
    (f) => {
      f.port25 = { kind: 'timeout', target: 'gmail.com', ip: '192.0.2.25:25', ms: 10_000 };
    },
    'port25.blocked',
    'error',
    /unblock outbound port 25.*relay through a smarthost: \[outbound\] relay = /,
  ],
  [
    'port 25 refused',
    (f) => {
      f.port25 = { kind: 'failed', target: 'gmail.com', ip: '192.0.2.25:25', detail: 'ECONNREFUSED' };
    },
    'port25.failed',
    'warning',
    /doctor\.probe_mx/,
  ],
  [
    'smarthost refuses the credentials',
    (f) => {
      relay(f).result = {
        stage: 'auth',
        ip: '192.0.2.50',
        tls: TLS_OK,
        detail: 'AUTH refused',
        offered: 'PLAIN LOGIN',
        reply: { code: 535, enhanced: '5.7.8', text: 'Error: authentication failed' },
      };
    },
    'smarthost.auth',
    'error',
    /username in \[outbound\.relay_auth\] and the password in \/etc\/sealpost\/relay\.password/,
  ],
  [
    'smarthost offers no AUTH',
    (f) => {
      relay(f).result = { stage: 'auth', ip: '192.0.2.50', tls: TLS_OK, detail: 'the server offers neither', offered: '' };
    },
    'smarthost.auth',
    'error',
    /use its submission port/,
  ],
  [
    'smarthost certificate from an unknown CA',
    (f) => {
      relay(f).result = {
        stage: 'tls',
        ip: '192.0.2.50',
        tls: { ...TLS_OK, chainError: 'SELF_SIGNED_CERT_IN_CHAIN' },
        verdict: 'certificate verification failed: SELF_SIGNED_CERT_IN_CHAIN',
      };
    },
    'smarthost.tls',
    'error',
    /outbound\.ca_file/,
  ],
  [
    'smarthost port dropped',
    (f) => {
      relay(f).result = { stage: 'connect', ip: '192.0.2.50', detail: 'connect to 192.0.2.50:465 timed out after 15 s' };
    },
    'smarthost.connect',
    'error',
    /other port/,
  ],
  [
    'smarthost password file unreadable',
    (f) => {
      relay(f).result = { stage: 'password', ip: '192.0.2.50', tls: TLS_OK, detail: 'EACCES' };
    },
    'smarthost.password',
    'error',
    /mode 600/,
  ],
];

test('the good facts: every finding ok, exit 0', () => {
  const findings = runChecks(good());
  assert.deepEqual(
    findings.filter((f) => f.level !== 'ok'),
    [],
  );
  assert.deepEqual(
    [...new Set(findings.map((f) => f.id))],
    [
      'host.addresses',
      'ptr.confirmed',
      'mx.ours',
      'spf.pass',
      'dkim.match',
      'dmarc.ok',
      'cert.valid',
      'caa.ok',
      'dnsbl.clean',
      'port25.open',
      'smarthost.tls',
      'smarthost.auth',
    ],
  );
  assert.equal(exitCode(findings), 0);
});

for (const [name, change, id, level, fix] of ROWS) {
  test(`doctor: ${name} → ${level} ${id}`, () => {
    const facts = good();
    change(facts);
    const findings = runChecks(facts);
    const hit = findings.find((f) => f.id === id);
    assert.ok(hit, `${id} among ${findings.map((f) => `${f.level} ${f.id}`).join(', ')}`);
    assert.equal(hit.level, level);
    assert.match(hit.fix, fix);
    assert.notEqual(hit.why, '');
    assert.notEqual(hit.found, '');
    assert.equal(exitCode(findings), findings.some((f) => f.level === 'error') ? 1 : 0);
    if (level === 'warning') assert.equal(exitCode(findings), 0, 'a warning alone keeps exit 0');
  });
}

test('SPF lookups are counted through include: and redirect= (RFC 7208 §4.6.4)', () => {
  const cases: [string, Record<string, string | null>, number][] = [
    ['v=spf1 ip4:192.0.2.1 -all', {}, 0],
    ['v=spf1 mx a ptr exists:%{i}.x.example -all', {}, 4],
    ['v=spf1 include:a.example -all', { 'a.example': 'v=spf1 mx include:b.example ~all', 'b.example': 'v=spf1 a -all' }, 4],
    ['v=spf1 redirect=a.example', { 'a.example': 'v=spf1 mx -all' }, 2],
    ['v=spf1 include:loop.example -all', { 'loop.example': 'v=spf1 include:d.example -all' }, 2],
  ];
  for (const [record, tree, n] of cases) assert.equal(countLookups('d.example', { ...tree, 'd.example': record }), n, record);
});
