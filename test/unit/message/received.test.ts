import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rfc5322Date } from '../../../src/core/date.ts';
import { receivedHeader } from '../../../src/message/received.ts';

test('Received header in the form operators know, with TLS details and one recipient', () => {
  const h = receivedHeader({
    helo: 'client.example',
    reverseName: 'mail.client.example',
    ip: '192.0.2.7',
    hostname: 'mx.example.test',
    queueId: 'Q1',
    protocol: 'ESMTPS',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', bits: 256 },
    recipient: 'alice@example.test',
    date: new Date(Date.UTC(2026, 10, 23, 10, 54, 14)),
  });
  assert.equal(
    h,
    'Received: from client.example (mail.client.example [192.0.2.7])\r\n\tby mx.example.test (Sealpost) with ESMTPS id Q1\r\n' +
      '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n\tfor <alice@example.test>;\r\n\tMon, 23 Nov 2026 10:54:14 +0000\r\n',
  );
});

test('client-controlled HELO cannot inject header lines', () => {
  const h = receivedHeader({ helo: 'evil\r\nX-Injected: 1', ip: '192.0.2.7', hostname: 'mx', queueId: 'Q', protocol: 'SMTP', date: new Date(0) });
  assert.ok(!h.includes('\r\nX-Injected'), h);
  assert.match(h, /from evil\?\?X-Injected: 1 \(unknown \[192\.0\.2\.7\]\)/);
  assert.equal(rfc5322Date(0), 'Thu, 01 Jan 1970 00:00:00 +0000');
});
