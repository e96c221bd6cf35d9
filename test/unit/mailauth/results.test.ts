import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authservIdOf, dmarcRejection, removeOurResults } from '../../../src/mailauth/results.ts';

test('removeOurResults drops only fields with our authserv-id, folded ones whole, bytes kept', () => {
  const message = Buffer.from(
    [
      'Authentication-Results: MX.Example.Test; spf=pass smtp.mailfrom=ceo@example.test',
      'Received: from a by b',
      'authentication-results : (forged) mx.example.test;',
      '\tdkim=pass header.d=example.test',
      'Authentication-Results: mx.other.test; spf=fail',
      'Subject: caf\xe9',
      '',
      'Authentication-Results: mx.example.test; in the body stays',
      '',
    ].join('\r\n'),
    'latin1',
  );
  const { message: out, removed } = removeOurResults(message, 'mx.example.test');
  assert.equal(removed, 2);
  assert.equal(
    out.toString('latin1'),
    [
      'Received: from a by b',
      'Authentication-Results: mx.other.test; spf=fail',
      'Subject: caf\xe9',
      '',
      'Authentication-Results: mx.example.test; in the body stays',
      '',
    ].join('\r\n'),
  );
  const clean = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  assert.equal(removeOurResults(clean, 'mx.example.test').message, clean, 'untouched: the same buffer');
  // RFC 5322 §4.5.3 obs-syntax: white space before the colon, as receivers read it.
  const obs = removeOurResults(Buffer.from('Authentication-Results\t: mx.example.test; dkim=pass\r\nSubject: s\r\n\r\nbody\r\n'), 'mx.example.test');
  assert.deepEqual([obs.removed, obs.message.toString()], [1, 'Subject: s\r\n\r\nbody\r\n']);
});

test('authservIdOf skips comments and folding', () => {
  assert.equal(authservIdOf(' mx.example.test; spf=pass'), 'mx.example.test');
  assert.equal(authservIdOf(' (comment (nested)) MX.example.test 1; none'), 'mx.example.test');
  assert.equal(authservIdOf('\r\n mx.example.test;'), 'mx.example.test');
  assert.equal(authservIdOf(''), '');
});

test('dmarcRejection: only when enforcing, failing, p=reject and not testing', () => {
  const fail = { result: 'fail', policy: 'reject', testMode: false, domain: 'spoof.test' };
  assert.deepEqual(dmarcRejection(fail, true), { code: 550, enhanced: '5.7.1', text: 'Message rejected: it fails the DMARC policy of spoof.test' });
  assert.equal(dmarcRejection(fail, false), undefined);
  assert.equal(dmarcRejection({ ...fail, policy: 'quarantine' }, true), undefined);
  assert.equal(dmarcRejection({ ...fail, testMode: true }, true), undefined);
  assert.equal(dmarcRejection({ ...fail, result: 'pass' }, true), undefined);
  assert.equal(dmarcRejection({ ...fail, result: 'temperror' }, true), undefined);
  assert.equal(dmarcRejection(undefined, true), undefined);
});
