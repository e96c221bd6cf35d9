// RFC 8689 for one hop: which policies can carry a REQUIRETLS message, which sessions, and what
// TLS-Required: No does to a destination's policy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TlsLevel } from '../../../src/config/types.ts';
import type { HopTls } from '../../../src/outbound/hop.ts';
import { requireTlsPolicyRefusal, requireTlsSessionRefusal, withoutRecipientPolicy } from '../../../src/outbound/requiretls.ts';
import type { PolicySource, TlsPolicy } from '../../../src/tls-policy/policy.ts';

const policy = (level: string, source: string): TlsPolicy => ({ level: level as TlsLevel, source: source as PolicySource });

test('requireTlsPolicyRefusal: MX delivery only under MTA-STS enforce or DANE; a next hop of the operator under verify', { timeout: 5000 }, () => {
  const table: { level: string; source: string; transport: boolean; ok: boolean }[] = [
    { level: 'verify', source: 'mta-sts', transport: false, ok: true },
    // The DANE levels land in another change: source "dane" is authenticated (RFC 7672).
    { level: 'dane-only', source: 'dane', transport: false, ok: true },
    { level: 'may', source: 'default', transport: false, ok: false },
    { level: 'encrypt', source: 'default', transport: false, ok: false },
    // An explicit verify for a domain checks the MX host's name, but the MX name itself came from unsigned DNS.
    { level: 'verify', source: 'table', transport: false, ok: false },
    { level: 'may', source: 'tls-required', transport: false, ok: false },
    { level: 'verify', source: 'transport', transport: true, ok: true },
    { level: 'verify', source: 'table', transport: true, ok: true },
    { level: 'encrypt', source: 'transport', transport: true, ok: false },
    { level: 'may', source: 'default', transport: true, ok: false },
  ];
  for (const row of table) {
    const refusal = requireTlsPolicyRefusal(policy(row.level, row.source), row.transport);
    assert.equal(refusal === undefined, row.ok, JSON.stringify(row));
    if (refusal) assert.match(refusal, /REQUIRETLS, RFC 8689/);
  }
  assert.match(requireTlsPolicyRefusal(policy('may', 'default'), false) ?? '', /neither DANE TLSA records nor an MTA-STS policy in enforce mode/);
});

test('requireTlsSessionRefusal: encrypted, verified, and REQUIRETLS in the EHLO reply', { timeout: 5000 }, () => {
  const verified: HopTls = { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verified: true };
  const unverified: HopTls = { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verified: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
  const table: { tls: HopTls | undefined; offered: boolean; want: RegExp | undefined }[] = [
    { tls: verified, offered: true, want: undefined },
    { tls: verified, offered: false, want: /does not offer it/ },
    { tls: unverified, offered: true, want: /DEPTH_ZERO_SELF_SIGNED_CERT/ },
    { tls: undefined, offered: true, want: /not encrypted/ },
    { tls: { version: '', cipher: '', verified: false, error: 'handshake failed' }, offered: true, want: /not encrypted/ },
  ];
  for (const row of table) {
    const refusal = requireTlsSessionRefusal(row.tls, row.offered);
    if (row.want) assert.match(refusal ?? '', row.want, JSON.stringify(row));
    else assert.equal(refusal, undefined, JSON.stringify(row));
  }
});

test("withoutRecipientPolicy: TLS-Required: No sets MTA-STS and DANE aside, never the operator's own levels", { timeout: 5000 }, () => {
  assert.deepEqual(withoutRecipientPolicy(policy('verify', 'mta-sts')), { level: 'may', source: 'tls-required' });
  assert.deepEqual(withoutRecipientPolicy(policy('dane-only', 'dane')), { level: 'may', source: 'tls-required' });
  for (const kept of [policy('verify', 'table'), policy('encrypt', 'default'), policy('verify', 'transport')])
    assert.deepEqual(withoutRecipientPolicy(kept), kept);
});
