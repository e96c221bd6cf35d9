import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reverseName } from '../../../src/dns/names.ts';
import { caaValue, dmarcRecord, mailRecords, spfRecord } from '../../../src/records/records.ts';
import { renderTable, renderZone, zoneFileLine } from '../../../src/records/render.ts';

test('SPF: mx -all, with our addresses when known', () => {
  assert.equal(spfRecord([]), 'v=spf1 mx -all');
  assert.equal(spfRecord(['203.0.113.7', '2001:db8::7']), 'v=spf1 mx ip4:203.0.113.7 ip6:2001:db8::7 -all');
});

test('reverse names (RFC 1035 §3.5, RFC 3596 §2.5)', () => {
  assert.equal(reverseName('203.0.113.7'), '7.113.0.203.in-addr.arpa');
  assert.equal(reverseName('2001:db8::7'), '7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa');
});

test('CAA: the CA of the directory, accounturi once the account exists (RFC 8657)', () => {
  const le = 'https://acme-v02.api.letsencrypt.org/directory';
  assert.equal(caaValue(le), '0 issue "letsencrypt.org"');
  assert.equal(
    caaValue(le, 'https://acme-v02.api.letsencrypt.org/acme/acct/1'),
    '0 issue "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/1"',
  );
  assert.equal(caaValue('https://acme.zerossl.com/v2/DV90'), '0 issue "sectigo.com"');
});

test('every record family, PTRs for the provider; zone lines and a table', () => {
  const records = mailRecords({
    hostname: 'mx.example.org',
    domains: ['example.org'],
    addresses: ['203.0.113.7'],
    dkim: [{ domain: 'example.org', selector: 's1', record: `v=DKIM1; k=rsa; p=${'A'.repeat(300)}` }],
    acme: { enabled: true, directory: 'https://acme-v02.api.letsencrypt.org/directory' },
    dmarcRua: (d) => `dmarc@${d}`,
  });
  assert.deepEqual(
    records.map((r) => `${r.name} ${r.type} ${r.where}`),
    [
      'example.org MX zone',
      'mx.example.org A zone',
      'example.org TXT zone',
      's1._domainkey.example.org TXT zone',
      '_dmarc.example.org TXT zone',
      'mx.example.org CAA zone',
      '7.113.0.203.in-addr.arpa PTR provider',
    ],
  );
  assert.equal(records[4]?.value, dmarcRecord('dmarc@example.org'));
  // RFC 1035 §3.3.14: a TXT of more than 255 bytes is written as several strings.
  assert.match(zoneFileLine(records[3]!), /^s1\._domainkey\.example\.org\.\t3600\tIN\tTXT\t"v=DKIM1; k=rsa; p=A{237}" "A{63}"$/);
  const zone = renderZone(records);
  assert.ok(zone.indexOf('hosting provider') < zone.indexOf('in-addr.arpa'));
  assert.match(renderTable(records), /^example\.org +MX +3600 +10 mx\.example\.org\.$/m);
});
