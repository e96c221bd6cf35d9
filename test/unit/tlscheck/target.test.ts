import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTarget } from '../../../src/tlscheck/target.ts';

test('tls-check targets, table', () => {
  const cases: [string, unknown][] = [
    ['example.org', { kind: 'domain', name: 'example.org' }],
    ['Example.ORG.', { kind: 'domain', name: 'example.org' }],
    ['bücher.example', { kind: 'domain', name: 'xn--bcher-kva.example' }],
    ['mx.example.org:2525', { kind: 'host', host: 'mx.example.org', port: 2525 }],
    ['192.0.2.1', { kind: 'host', host: '192.0.2.1', ip: '192.0.2.1' }],
    ['192.0.2.1:25', { kind: 'host', host: '192.0.2.1', ip: '192.0.2.1', port: 25 }],
    ['2001:db8::1', { kind: 'host', host: '2001:db8::1', ip: '2001:db8::1' }],
    ['[2001:db8::1]:587', { kind: 'host', host: '2001:db8::1', ip: '2001:db8::1', port: 587 }],
    ['[2001:db8::1]', { kind: 'host', host: '2001:db8::1', ip: '2001:db8::1' }],
  ];
  for (const [text, want] of cases) assert.deepEqual(parseTarget(text), want, text);
  for (const bad of ['', 'localhost', 'mx.example.org:0', 'mx.example.org:99999', '[192.0.2.1]:25', 'a..b', 'exa mple.org', 'user@example.org']) {
    assert.ok('error' in parseTarget(bad), `${bad} is refused`);
  }
});
