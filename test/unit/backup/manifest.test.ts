// The backup manifest (src/backup/manifest.ts): paths a restore may write, parsing, the problems
// between a manifest and what a backup holds, the refusal of a non-empty data_dir. Tables.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MANIFEST_FORMAT, type Manifest, nonEmptyProblem, parseManifest, restoreProblems, safeBackupPath } from '../../../src/backup/manifest.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: MANIFEST_FORMAT,
    sealpostVersion: '0.1.0',
    schemaVersion: 6,
    createdAt: '2026-12-02T00:00:00.000Z',
    hostname: 'mx.example.org',
    messages: 1,
    spooled: 0,
    leftQueue: [],
    maildirs: [],
    files: [
      { path: 'data/sealpost.db', size: 10, sha256: A },
      { path: 'config/sealpost.toml', size: 3, sha256: B },
    ],
    ...overrides,
  };
}

describe('safeBackupPath', () => {
  const cases: [string, boolean][] = [
    ['data/sealpost.db', true],
    ['data/dkim/example.org/s1.pem', true],
    ['config/sealpost.toml', true],
    ['config/other.toml', false],
    ['manifest.json', false],
    ['data/../etc/passwd', false],
    ['/data/x', false],
    ['data//x', false],
    ['data/./x', false],
    ['data\\x', false],
    ['', false],
  ];
  for (const [p, ok] of cases) test(`${JSON.stringify(p)} → ${ok}`, () => assert.equal(safeBackupPath(p), ok));
});

describe('parseManifest', () => {
  test('a manifest as backup writes it', () => {
    const parsed = parseManifest(JSON.stringify(manifest()));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.schemaVersion, 6);
    assert.equal(parsed.value.files.length, 2);
  });
  const bad: [string, unknown, RegExp][] = [
    ['not JSON', '{', /is not JSON/],
    ['another format', { ...manifest(), format: 'tarball/2' }, /has format "tarball\/2"/],
    ['no schema version', { ...manifest(), schemaVersion: 'six' }, /schemaVersion is not an integer/],
    ['a path outside data_dir', { ...manifest(), files: [{ path: 'data/../x', size: 1, sha256: A }] }, /"data\/\.\.\/x" is not a path a restore may write/],
    ['a bad checksum', { ...manifest(), files: [{ path: 'data/sealpost.db', size: 1, sha256: 'xyz' }] }, /data\/sealpost\.db has no valid size and sha256/],
    [
      'a path twice',
      {
        ...manifest(),
        files: [
          { path: 'data/sealpost.db', size: 1, sha256: A },
          { path: 'data/sealpost.db', size: 1, sha256: A },
        ],
      },
      /listed twice/,
    ],
    ['no database', { ...manifest(), files: [{ path: 'config/sealpost.toml', size: 1, sha256: A }] }, /has no data\/sealpost\.db/],
  ];
  for (const [name, value, problem] of bad)
    test(name, () => {
      const parsed = parseManifest(typeof value === 'string' ? value : JSON.stringify(value));
      assert.ok(!parsed.ok);
      assert.match(parsed.problem, problem);
    });
});

describe('restoreProblems', () => {
  const good = [
    { path: 'data/sealpost.db', size: 10, sha256: A },
    { path: 'config/sealpost.toml', size: 3, sha256: B },
  ];
  const cases: [string, Manifest, typeof good, RegExp[]][] = [
    ['everything matches', manifest(), good, []],
    [
      'a changed file',
      manifest(),
      [good[0]!, { path: 'config/sealpost.toml', size: 3, sha256: A }],
      [/^config\/sealpost\.toml: does not match the manifest .*restore from another copy/],
    ],
    ['a changed size', manifest(), [{ path: 'data/sealpost.db', size: 11, sha256: A }, good[1]!], [/^data\/sealpost\.db: does not match/]],
    ['a missing file', manifest(), [good[0]!], [/^config\/sealpost\.toml: missing from B; the backup is incomplete/]],
    ['a file not in the manifest', manifest(), [...good, { path: 'data/x', size: 1, sha256: A }], [/^data\/x: in B but not in its manifest/]],
    [
      'a newer schema',
      manifest({ schemaVersion: 7 }),
      good,
      [/schema version 7 \(Sealpost 0\.1\.0\); this Sealpost knows up to 6: restore with Sealpost 0\.1\.0 or newer/],
    ],
  ];
  for (const [name, m, observed, expected] of cases)
    test(name, () => {
      const problems = restoreProblems(m, observed, 6, 'B');
      assert.equal(problems.length, expected.length, problems.join('\n'));
      for (const [i, re] of expected.entries()) assert.match(problems[i] ?? '', re);
    });
});

describe('nonEmptyProblem', () => {
  test('an empty data_dir is fine', () => assert.equal(nonEmptyProblem('/d', []), undefined));
  test('names what is there, sorted, at most five', () => {
    const problem = nonEmptyProblem('/d', ['spool', 'sealpost.db', 'a', 'b', 'c', 'd', 'e']);
    assert.match(problem ?? '', /^data_dir \/d is not empty \(a, b, c, d, e and 2 more\): restore only into an empty data_dir: set data_dir/);
  });
});
