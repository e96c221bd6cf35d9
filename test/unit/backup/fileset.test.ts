// The backup file set (src/backup/fileset.ts): what goes into a backup, linked or copied, and
// where a restore puts each path. Tables.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { outOf, planBackup, restoreTarget } from '../../../src/backup/fileset.ts';

describe('outOf', () => {
  test('.tar.zst is an archive', () => assert.deepEqual(outOf('/b/x.tar.zst'), { kind: 'archive', file: '/b/x.tar.zst' }));
  test('anything else a directory', () => assert.deepEqual(outOf('/b/x.tar'), { kind: 'dir', dir: '/b/x.tar' }));
});

describe('planBackup', () => {
  const input = {
    kept: ['dkim/example.org/s1.pem', 'certs/self-signed/key.pem'],
    spool: ['m2', 'm1', 'm1'],
    mail: ['example.org/alice/new/1', 'example.org/alice/cur/2:2,S', 'example.org/alice/tmp/3', 'example.org/bob/new/4', 'stray'],
  };
  test('keys and certificates copied, exactly the named spool files linked, Maildirs named only', () => {
    const plan = planBackup({ ...input, withMail: false });
    assert.deepEqual(plan.files, [
      { from: 'certs/self-signed/key.pem', to: 'data/certs/self-signed/key.pem', how: 'copy' },
      { from: 'dkim/example.org/s1.pem', to: 'data/dkim/example.org/s1.pem', how: 'copy' },
      { from: 'spool/m1', to: 'data/spool/m1', how: 'link' },
      { from: 'spool/m2', to: 'data/spool/m2', how: 'link' },
    ]);
    assert.deepEqual(plan.maildirs, [
      { name: 'example.org/alice', files: 2, copied: false },
      { name: 'example.org/bob', files: 1, copied: false },
    ]);
  });
  test('--with-mail links the messages of new/ and cur/, never tmp/', () => {
    const plan = planBackup({ ...input, withMail: true });
    assert.deepEqual(
      plan.files.filter((f) => f.from.startsWith('mail/')).map((f) => f.to),
      ['data/mail/example.org/alice/cur/2:2,S', 'data/mail/example.org/alice/new/1', 'data/mail/example.org/bob/new/4'],
    );
    assert.ok(plan.maildirs.every((m) => m.copied));
  });
});

describe('restoreTarget', () => {
  const cases: [string, string][] = [
    ['data/sealpost.db', '/var/lib/sealpost/sealpost.db'],
    ['data/spool/m1', '/var/lib/sealpost/spool/m1'],
    ['config/sealpost.toml', '/etc/sealpost/sealpost.toml'],
  ];
  for (const [p, target] of cases) test(`${p} → ${target}`, () => assert.equal(restoreTarget(p, '/var/lib/sealpost', '/etc/sealpost/sealpost.toml'), target));
});
