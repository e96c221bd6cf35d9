// checkPaths (src/cli/check-paths.ts) with a file system made of data: data_dir usable or why not,
// certificate files readable and matching; and mountinfo parsing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkPaths, mountTypeOf, type PathFs } from '../../../src/cli/check-paths.ts';
import { selfSignedCert } from '../../helpers/certs.ts';

interface FakeEntry {
  kind: 'directory' | 'file';
  fsType?: string;
  /** errno of access(W_OK), if any. */
  denied?: string;
  text?: string;
}

/** Paths not listed do not exist (ENOENT); a path under a file is ENOTDIR; fsType is inherited. */
function fakeFs(entries: Record<string, FakeEntry>): PathFs {
  const parentFile = (file: string) => Object.keys(entries).some((p) => entries[p]?.kind === 'file' && file.startsWith(`${p}/`));
  const typeOf = (file: string): string | undefined => {
    for (let at = file; ; at = at.slice(0, Math.max(1, at.lastIndexOf('/')))) {
      const t = entries[at]?.fsType;
      if (t !== undefined || at === '/') return t;
    }
  };
  return {
    kind: async (file) => entries[file]?.kind ?? { error: parentFile(file) ? 'ENOTDIR' : 'ENOENT' },
    writable: async (dir) => entries[dir]?.denied,
    fsType: async (file) => typeOf(file),
    readText: async (file) => {
      const e = entries[file];
      if (e === undefined) throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      if (e.denied === 'EACCES') throw Object.assign(new Error(`EACCES: ${file}`), { code: 'EACCES' });
      return e.text ?? '';
    },
  };
}

const tls = { minVersion: 'TLSv1.2' as const, certFile: '', keyFile: '' };
const root: Record<string, FakeEntry> = { '/': { kind: 'directory', fsType: 'ext4' }, '/var': { kind: 'directory' }, '/var/lib': { kind: 'directory' } };

describe('checkPaths: data_dir', { timeout: 10_000 }, () => {
  const cases: { why: string; dataDir: string; entries: Record<string, FakeEntry>; problem?: RegExp }[] = [
    { why: 'an existing writable directory', dataDir: '/var/lib/sealpost', entries: { '/var/lib/sealpost': { kind: 'directory' } } },
    { why: 'missing, under a writable parent (created at start)', dataDir: '/var/lib/sealpost/data', entries: {} },
    { why: 'on tmpfs', dataDir: '/run/sealpost', entries: { '/run': { kind: 'directory', fsType: 'tmpfs' } } },
    { why: 'a regular file', dataDir: '/var/lib/sealpost', entries: { '/var/lib/sealpost': { kind: 'file' } }, problem: /is a regular file/ },
    {
      why: 'read-only',
      dataDir: '/var/lib/sealpost',
      entries: { '/var/lib/sealpost': { kind: 'directory', denied: 'EROFS' } },
      problem: /read-only file system/,
    },
    {
      why: 'not writable',
      dataDir: '/var/lib/sealpost',
      entries: { '/var/lib/sealpost': { kind: 'directory', denied: 'EACCES' } },
      problem: /not writable by this process \(EACCES\)/,
    },
    {
      why: 'missing under a read-only parent',
      dataDir: '/var/lib/sealpost/data',
      entries: { '/var/lib': { kind: 'directory', denied: 'EROFS' } },
      problem: /does not exist and cannot be created: \/var\/lib is on a read-only/,
    },
    {
      why: 'missing under a file',
      dataDir: '/var/lib/x/data',
      entries: { '/var/lib/x': { kind: 'file' } },
      problem: /a parent of \/var\/lib\/x\/data is a file/,
    },
    {
      why: 'under /proc',
      dataDir: '/proc/sealpost-data',
      entries: { '/proc': { kind: 'directory', fsType: 'proc' } },
      problem: /\/proc is on proc, a kernel file system/,
    },
    {
      why: 'an existing directory on sysfs',
      dataDir: '/sys/kernel',
      entries: { '/sys': { kind: 'directory', fsType: 'sysfs' }, '/sys/kernel': { kind: 'directory' } },
      problem: /is on sysfs/,
    },
    { why: 'under /dev', dataDir: '/dev/sealpost', entries: { '/dev': { kind: 'directory', fsType: 'devtmpfs' } }, problem: /is on devtmpfs/ },
  ];
  for (const c of cases) {
    test(`${c.why}: ${c.problem ? 'refused' : 'fine'}`, async () => {
      const problems = await checkPaths({ dataDir: c.dataDir, tls }, fakeFs({ ...root, ...c.entries }));
      if (!c.problem) return assert.deepEqual(problems, []);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]?.path, 'data_dir');
      assert.match(problems[0]?.message ?? '', c.problem);
      assert.match(problems[0]?.message ?? '', /point data_dir at a directory/, 'says the fix');
    });
  }
});

describe('checkPaths: tls.cert_file and tls.key_file', { timeout: 20_000 }, () => {
  test('missing, unreadable, not matching, and fine', async () => {
    const a = await selfSignedCert({ names: ['mx.example.test'] });
    const b = await selfSignedCert({ names: ['mx.example.test'] });
    const files: Record<string, FakeEntry> = {
      ...root,
      '/etc/a.pem': { kind: 'file', text: a.chainPem },
      '/etc/a.key': { kind: 'file', text: a.keyPem },
      '/etc/b.key': { kind: 'file', text: b.keyPem },
      '/etc/locked.key': { kind: 'file', denied: 'EACCES' },
    };
    const check = (certFile: string, keyFile: string) => checkPaths({ dataDir: '/var/lib', tls: { ...tls, certFile, keyFile } }, fakeFs(files));
    assert.deepEqual(await check('/etc/a.pem', '/etc/a.key'), []);
    const cases: [string, string, string, RegExp][] = [
      ['/etc/missing.pem', '/etc/a.key', 'tls.cert_file', /^\/etc\/missing\.pem does not exist; fix the path/],
      ['/etc/a.pem', '/etc/locked.key', 'tls.key_file', /not readable by this process/],
      ['/etc/a.pem', '/etc/b.key', 'tls.key_file', /does not go with tls\.cert_file/],
      ['/etc/a.key', '/etc/a.pem', 'tls.cert_file', /are cert_file and key_file swapped\?/],
    ];
    for (const [certFile, keyFile, key, message] of cases) {
      const problems = await check(certFile, keyFile);
      assert.deepEqual(
        problems.map((p) => p.path),
        [key],
        `${certFile} + ${keyFile}`,
      );
      assert.match(problems[0]?.message ?? '', message);
    }
  });
});

test('mountTypeOf: longest mount point, the last mount over it, escapes decoded', { timeout: 5_000 }, () => {
  const mountinfo = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '23 22 0:21 / /proc rw,nosuid shared:12 - proc proc rw',
    '24 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=100k',
    '25 22 0:22 / /tmp rw shared:3 - tmpfs tmpfs rw',
    '26 25 0:23 / /tmp/with\\040space rw - xfs /dev/sdb rw',
    '27 22 0:24 / /tmp rw - ext4 /dev/sdc rw',
  ].join('\n');
  assert.equal(mountTypeOf(mountinfo, '/proc'), 'proc');
  assert.equal(mountTypeOf(mountinfo, '/proc/1/fd'), 'proc');
  assert.equal(mountTypeOf(mountinfo, '/processes'), 'ext4', 'a name that only starts like a mount point');
  assert.equal(mountTypeOf(mountinfo, '/dev/shm/x'), 'devtmpfs');
  assert.equal(mountTypeOf(mountinfo, '/tmp/with space/data'), 'xfs');
  assert.equal(mountTypeOf(mountinfo, '/tmp/data'), 'ext4', 'the later mount on /tmp hides tmpfs');
  assert.equal(mountTypeOf(mountinfo, '/var/lib'), 'ext4');
});
