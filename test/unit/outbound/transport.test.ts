import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NextHop } from '../../../src/config/types.ts';
import { chooseTransport, type Transport, transportLabel } from '../../../src/outbound/transport.ts';

const hop = (host: string, port: number, extra: Partial<NextHop> = {}): NextHop => ({ protocol: 'smtp', host, port, mxLookup: false, ...extra });
const auth = { username: 'mailer', passwordFile: '/etc/sealpost/relay.password' };
const relay = hop('smtp.provider.example', 587, { tls: 'verify', auth });
const transports: Record<string, NextHop> = {
  'example.com': hop('mx.partner.example', 25),
  '.internal.example': hop('10.0.0.5', 2525),
  '.a.internal.example': hop('deep.internal.example', 25, { mxLookup: true }),
  'exact.internal.example': hop('exact.host', 26),
};

const cases: [string, string, NextHop | undefined, Transport][] = [
  [
    'an exact domain',
    'example.com',
    relay,
    { kind: 'relay', via: 'example.com', protocol: 'smtp', host: 'mx.partner.example', port: 25, mxLookup: false, tls: undefined, auth: undefined },
  ],
  ['exact names are case-insensitive', 'EXAMPLE.com', undefined, chooseTransport('example.com', transports, undefined)],
  ['a subdomain of an exact entry is not it: relay', 'sub.example.com', relay, { kind: 'relay', via: 'relay', ...relay, tls: 'verify', auth }],
  [
    'a parent entry',
    'x.internal.example',
    relay,
    { kind: 'relay', via: '.internal.example', protocol: 'smtp', host: '10.0.0.5', port: 2525, mxLookup: false, tls: undefined, auth: undefined },
  ],
  ['the parent entry does not match the parent itself', 'internal.example', undefined, { kind: 'mx' }],
  [
    'the closest parent wins',
    'b.a.internal.example',
    undefined,
    { kind: 'relay', via: '.a.internal.example', protocol: 'smtp', host: 'deep.internal.example', port: 25, mxLookup: true, tls: undefined, auth: undefined },
  ],
  [
    'an exact entry wins over a parent',
    'exact.internal.example',
    relay,
    { kind: 'relay', via: 'exact.internal.example', protocol: 'smtp', host: 'exact.host', port: 26, mxLookup: false, tls: undefined, auth: undefined },
  ],
  [
    'no entry: the relay',
    'gmail.com',
    relay,
    { kind: 'relay', via: 'relay', protocol: 'smtp', host: 'smtp.provider.example', port: 587, mxLookup: false, tls: 'verify', auth },
  ],
  ['no entry, no relay: MX delivery', 'gmail.com', undefined, { kind: 'mx' }],
];

for (const [name, domain, r, want] of cases) {
  test(`chooseTransport: ${name}`, () => {
    assert.deepEqual(chooseTransport(domain, transports, r), want);
  });
}

test('transportLabel names what chose the next hop', () => {
  assert.equal(transportLabel({ kind: 'mx' }), undefined);
  assert.equal(transportLabel(chooseTransport('gmail.com', {}, relay)), 'relay');
  assert.equal(transportLabel(chooseTransport('x.internal.example', transports, relay)), 'transport .internal.example');
});
