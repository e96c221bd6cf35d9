// The mail-log records → metric counts mapping (src/metrics/counts.ts): labels from fixed lists only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MailEventFields } from '../../../src/log/log.ts';
import { agentLabel, countsOf, dnsErrorLabels, hopResult, rspamdLabels, tlsLabel } from '../../../src/metrics/counts.ts';

function hop(overrides: Partial<MailEventFields['hop']>): MailEventFields['hop'] {
  return {
    queueId: 'Q1',
    rcpts: ['bob@remote.test'],
    domain: 'remote.test',
    mx: 'mx.remote.test',
    ip: '127.0.0.5',
    port: 25,
    policy: 'may',
    policySource: 'default',
    tls: null,
    downgrade: null,
    reply: { code: 250, text: 'ok' },
    result: 'delivered',
    error: null,
    transport: null,
    source: null,
    ms: 10,
    ...overrides,
  };
}

test('a hop is counted by its TLS result', () => {
  const tls = (verified: boolean, version = 'TLSv1.3') => ({ version, cipher: 'TLS_AES_256_GCM_SHA384', verified });
  const cases: [string, MailEventFields['hop'], string][] = [
    ['verified chain and name', hop({ tls: tls(true) }), 'verified'],
    ['TLS with a certificate not verified', hop({ tls: tls(false) }), 'unverified'],
    ['no STARTTLS offered', hop({}), 'plaintext'],
    ['handshake failed, retried in plaintext', hop({ tls: tls(false, ''), downgrade: 'handshake failed; retried in plaintext' }), 'downgrade'],
    [
      'handshake failed under encrypt: deferred',
      hop({ policy: 'encrypt', tls: { ...tls(false, ''), error: 'EPROTO' }, reply: null, result: 'transient' }),
      'failed',
    ],
    ['connection refused', hop({ reply: null, result: 'transient', error: 'ECONNREFUSED' }), 'failed'],
    ['a 451 in plaintext is still plaintext', hop({ reply: { code: 451, text: 'later' }, result: 'transient' }), 'plaintext'],
  ];
  for (const [label, fields, want] of cases) assert.equal(hopResult(fields), want, label);
  assert.deepEqual(countsOf('hop', hop({ policy: 'verify', tls: tls(true) })), [
    { kind: 'counter', name: 'hops', labels: { policy: 'verify', result: 'verified' } },
  ]);
  assert.deepEqual(countsOf('hop', hop({ policy: 'sts-enforce-someday' }))[0], {
    kind: 'counter',
    name: 'hops',
    labels: { policy: 'other', result: 'plaintext' },
  });
});

test('delivery records count by delivery agent; a delivered one also observes its latency in seconds', () => {
  assert.deepEqual(countsOf('delivered', { transport: 'remote', agent: 'relay', rcpt: 'a@b.test', delayMs: 1500 }), [
    { kind: 'counter', name: 'delivered', labels: { transport: 'relay' } },
    { kind: 'latency', labels: { transport: 'relay' }, seconds: 1.5 },
  ]);
  assert.deepEqual(countsOf('deferred', { transport: 'local', agent: 'lmtp' }), [{ kind: 'counter', name: 'deferred', labels: { transport: 'lmtp' } }]);
  assert.deepEqual(countsOf('bounced', { transport: 'remote', agent: 'smtp' }), [{ kind: 'counter', name: 'bounced', labels: { transport: 'smtp' } }]);
  const agents: [Record<string, unknown>, string][] = [
    [{ transport: 'local' }, 'maildir'],
    [{ transport: 'remote' }, 'smtp'],
    [{ transport: 'remote', agent: 'mx.evil.test' }, 'other'],
    [{}, 'other'],
  ];
  for (const [fields, want] of agents) assert.equal(agentLabel(fields), want, JSON.stringify(fields));
});

test('sessions by listener and TLS version; messages by listener, and by user only when authenticated', () => {
  assert.deepEqual(countsOf('session', { listener: 'mx', clientIp: '192.0.2.1', tls: { version: 'TLSv1.3', cipher: 'x' } }), [
    { kind: 'counter', name: 'sessions', labels: { listener: 'mx', tls: 'TLSv1.3' } },
  ]);
  assert.deepEqual(countsOf('session', { listener: 'submission', tls: null }), [
    { kind: 'counter', name: 'sessions', labels: { listener: 'submission', tls: 'none' } },
  ]);
  assert.equal(tlsLabel('TLSv1.2'), 'TLSv1.2');
  assert.equal(tlsLabel('SSLv3 or anything a client made up'), 'other');
  assert.deepEqual(countsOf('received', { listener: 'mx', from: 'x@spammer.test', clientIp: '192.0.2.1' }), [
    { kind: 'counter', name: 'received', labels: { listener: 'mx' } },
  ]);
  assert.deepEqual(countsOf('received', { listener: 'submissions', user: 'alice@example.test' }), [
    { kind: 'counter', name: 'received', labels: { listener: 'submissions' } },
    { kind: 'counter', name: 'userMessages', labels: { user: 'alice@example.test' } },
  ]);
});

test('AUTH by result, ACME failures, DNSBL refusals; other records count nothing', () => {
  assert.deepEqual(countsOf('auth', { result: 'failed', method: 'PLAIN', user: 'x', known: false, clientIp: '192.0.2.1', failures: 1, delayedMs: 0 }), [
    { kind: 'counter', name: 'auth', labels: { result: 'failed' } },
  ]);
  assert.deepEqual(countsOf('auth', { result: 'refused', method: 'LOGIN', user: 'x', clientIp: '192.0.2.1', retryInMs: 1000 })[0]?.labels, {
    result: 'refused',
  });
  assert.deepEqual(countsOf('cert', { action: 'failed', source: 'acme', names: ['mx.example.org'] }), [{ kind: 'counter', name: 'acmeFailures', labels: {} }]);
  assert.deepEqual(countsOf('cert', { action: 'refused', source: 'acme' }).length, 1);
  assert.deepEqual(countsOf('cert', { action: 'renewed', source: 'acme' }), []);
  assert.deepEqual(countsOf('cert', { action: 'refused', source: 'operator' }), []);
  assert.deepEqual(countsOf('rejected', { stage: 'connect', reason: 'dnsbl', clientIp: '192.0.2.1' }), [
    { kind: 'counter', name: 'dnsblRejections', labels: {} },
  ]);
  assert.deepEqual(countsOf('rejected', { stage: 'rcpt', reason: 'unknown user' }), []);
  assert.deepEqual(countsOf('daemon', { state: 'listening' }), []);
});

test('rspamd actions and DNS failures keep to their fixed label values', () => {
  assert.deepEqual(rspamdLabels('inbound', 'soft reject'), { direction: 'inbound', action: 'soft reject' });
  assert.deepEqual(rspamdLabels('sideways', 'custom-action'), { direction: 'other', action: 'other' });
  assert.deepEqual(dnsErrorLabels('MX', 'servfail'), { type: 'MX', error: 'servfail' });
  assert.deepEqual(dnsErrorLabels('TXT', 'timeout'), { type: 'TXT', error: 'timeout' });
  assert.equal(dnsErrorLabels('A', 'nxdomain'), undefined, 'NXDOMAIN is an answer, not an error');
  assert.equal(dnsErrorLabels('A', 'records'), undefined);
});
