// The doctor's checks at daemon start-up: with doctor.at_startup and a zone that has none of the
// domain's records, each error is logged once (event "doctor") and `sealpost status` shows the
// count; with at_startup = false nothing runs. Real daemon, DNS server on loopback (netless).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusReport } from '../../src/cli/status.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';

test('start-up doctor: each error logged once, the count in sealpost status', { timeout: 90_000 }, async (t) => {
  const dns = await startDnsServer(new Map([['mx.sealpost.test', { A: ['203.0.113.7'] }]]));
  t.after(() => dns.close());
  const daemon = await startSealpost(t, {
    config: { dns: { servers: [dns.address], timeout_ms: 1000 }, doctor: { at_startup: true, addresses: ['203.0.113.7'], dnsbl: [], domain_dnsbl: [] } },
  });
  const summary = await daemon.waitForLog((r) => r.event === 'doctor' && r.level !== 'error' && (r as Record<string, unknown>)['error'] !== undefined, {
    timeoutMs: 60_000,
  });
  const errors = daemon.findLogs((r) => r.event === 'doctor' && r['level'] === 'error');
  const ids = errors.map((r) => `${String(r['id'])} ${String(r['subject'])}`);
  // No PTR, no MX, no SPF, no DMARC for example.test in this zone.
  for (const id of ['ptr.missing 203.0.113.7', 'mx.missing example.test', 'spf.missing example.test', 'dmarc.missing example.test'])
    assert.ok(ids.includes(id), `${id} in ${ids.join(', ')}`);
  assert.equal(new Set(ids).size, ids.length, 'each error once');
  // It probed its own listener: STARTTLS, the self-signed certificate (ACME is off in tests).
  const cert = errors.find((r) => r['id'] === 'cert.unverified');
  assert.match(String(cert?.['found']), /self-signed; does not verify/);
  assert.match(String(cert?.['fix']), /turn on \[acme\]/);
  assert.equal((summary as Record<string, unknown>)['error'], errors.length);
  for (const r of errors) assert.ok(typeof r['fix'] === 'string' && (r['fix'] as string).length > 0);

  const status = await daemon.cli(['status', '--json']);
  const report = JSON.parse(status.stdout) as StatusReport;
  assert.equal(report.doctor?.errors, errors.length);
  const text = await daemon.cli(['status']);
  assert.match(text.stdout, new RegExp(`^doctor +${errors.length} errors, \\d+ warnings? at start-up`, 'm'));
});
