// Which paths the nodes share (shared-files/paths.ts): a table of paths and the verdicts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedPathOf, sharedPathProblem, writeOrder } from '../../../src/shared-files/paths.ts';

test('the ACME cache, the DKIM keys and the SRS secret are shared; nothing else, nothing that climbs out', () => {
  const cases: [string, boolean][] = [
    ['certs/acme/account.key', true],
    ['certs/acme/account.json', true],
    ['certs/acme/mx.example.org/meta.json', true],
    ['certs/acme/mx.example.org/key-0a1b.pem', true],
    ['certs/acme/mx.example.org/next-key.json', true],
    ['dkim/example.org/s2026.pem', true],
    ['srs/secret', true],
    ['srs/secret.tmp-0a1b2c', false],
    ['srs', false],
    ['certs/acme/status.json', false], // this node's own ACME status
    ['certs/acme/control/renew-1.json', false], // requests to this daemon
    ['certs/acme/mx.example.org/meta.json.tmp-0a1b2c', false], // a writer's temporary file
    ['certs/self-signed/cert.pem', false],
    ['queue.db', false],
    ['dkim/../queue.db', false],
    ['certs/acme/../../etc/passwd', false],
    ['dkim/./example.org/s.pem', false],
    ['dkim//s.pem', false],
    ['/etc/passwd', false],
    ['dkim/example.org\\s.pem', false],
    ['dkim/x', false],
    ['certs/acme', false],
    ['', false],
  ];
  for (const [rel, shared] of cases) assert.equal(sharedPathProblem(rel) === undefined, shared, rel);
});

test('an absolute file is named by its path under data_dir, or not at all', () => {
  assert.equal(sharedPathOf('/var/lib/sealpost', '/var/lib/sealpost/dkim/a.test/s.pem'), 'dkim/a.test/s.pem');
  assert.equal(sharedPathOf('/var/lib/sealpost/', '/var/lib/sealpost/certs/acme/account.key'), 'certs/acme/account.key');
  assert.equal(sharedPathOf('/var/lib/sealpost', '/var/lib/sealpost2/dkim/a.test/s.pem'), undefined);
  assert.equal(sharedPathOf('/var/lib/sealpost', '/var/lib/sealpost/certs/acme/status.json'), undefined);
});

test('every meta.json is written after the files it names', () => {
  assert.deepEqual(writeOrder(['certs/acme/a/meta.json', 'certs/acme/a/key-1.pem', 'dkim/a.test/s.pem', 'certs/acme/a/fullchain-1.pem']), [
    'certs/acme/a/fullchain-1.pem',
    'certs/acme/a/key-1.pem',
    'dkim/a.test/s.pem',
    'certs/acme/a/meta.json',
  ]);
});
