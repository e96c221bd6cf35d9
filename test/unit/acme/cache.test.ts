// The cert cache: modes, atomic generations, unreadable entries reported, account per directory.
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cacheRoot, ensureCacheDir, loadAccountKey, loadAccountUrl, loadEntry, saveAccountKey, saveAccountUrl, saveEntry } from '../../../src/acme/cache.ts';
import { tempDir } from '../../helpers/tmp.ts';

const meta = (n: number) => ({
  names: ['mx.example.test'],
  issuedAt: `2030-01-0${n}T00:00:00.000Z`,
  directory: 'https://ca.example/dir',
  orderUrl: `https://ca.example/order/${n}`,
  jitter: 0.25,
});

describe('cert cache', { timeout: 10_000 }, () => {
  it('creates the directory 0700 and the account key 0600', async (t) => {
    const root = cacheRoot(await tempDir(t));
    await ensureCacheDir(root);
    assert.equal((await stat(root)).mode & 0o777, 0o700);
    assert.equal((await stat(path.dirname(root))).mode & 0o777, 0o700);
    assert.equal(await loadAccountKey(root), undefined);
    await saveAccountKey(root, 'KEY');
    assert.equal(await loadAccountKey(root), 'KEY');
    assert.equal((await stat(path.join(root, 'account.key'))).mode & 0o777, 0o600);
  });

  it('keeps an account URL per directory', async (t) => {
    const root = cacheRoot(await tempDir(t));
    await ensureCacheDir(root);
    await saveAccountUrl(root, { directory: 'https://a/dir', url: 'https://a/acct/1' });
    await saveAccountUrl(root, { directory: 'https://b/dir', url: 'https://b/acct/9' });
    await saveAccountUrl(root, { directory: 'https://a/dir', url: 'https://a/acct/2' });
    assert.equal(await loadAccountUrl(root, 'https://a/dir'), 'https://a/acct/2');
    assert.equal(await loadAccountUrl(root, 'https://b/dir'), 'https://b/acct/9');
    assert.equal(await loadAccountUrl(root, 'https://c/dir'), undefined);
    await writeFile(path.join(root, 'account.json'), '{not json');
    assert.equal(await loadAccountUrl(root, 'https://a/dir'), undefined);
  });

  it('writes generations, switches at meta.json, keeps only the previous one', async (t) => {
    const root = cacheRoot(await tempDir(t));
    await ensureCacheDir(root);
    assert.deepEqual(await loadEntry(root, 'mx.example.test'), { kind: 'none' });
    for (const n of [1, 2, 3]) await saveEntry(root, 'mx.example.test', `serial${n}`, { keyPem: `key${n}`, certPem: `chain${n}` }, meta(n));
    const loaded = await loadEntry(root, 'mx.example.test');
    assert.equal(loaded.kind, 'found');
    assert.equal(loaded.kind === 'found' && loaded.entry.keyPem, 'key3');
    assert.equal(loaded.kind === 'found' && loaded.entry.certPem, 'chain3');
    assert.equal(loaded.kind === 'found' && loaded.entry.meta.orderUrl, 'https://ca.example/order/3');
    const dir = path.join(root, 'mx.example.test');
    assert.deepEqual((await readdir(dir)).sort(), ['fullchain-serial2.pem', 'fullchain-serial3.pem', 'key-serial2.pem', 'key-serial3.pem', 'meta.json']);
    assert.equal((await stat(path.join(dir, 'key-serial3.pem'))).mode & 0o777, 0o600);
    assert.equal(await readFile(path.join(dir, 'key-serial3.pem'), 'utf8'), 'key3');
  });

  it('reports what is wrong with an unreadable entry', async (t) => {
    const root = cacheRoot(await tempDir(t));
    await ensureCacheDir(root);
    await saveEntry(root, 'mx.example.test', 's1', { keyPem: 'k', certPem: 'c' }, meta(1));
    const dir = path.join(root, 'mx.example.test');
    await writeFile(path.join(dir, 'meta.json'), '{"names":["mx.example.test"],"keyFile":"key-gone.pem","chainFile":"fullchain-s1.pem"}');
    const missing = await loadEntry(root, 'mx.example.test');
    assert.equal(missing.kind, 'unreadable');
    assert.match(missing.kind === 'unreadable' ? missing.reason : '', /key-gone\.pem is missing/);
    await writeFile(path.join(dir, 'meta.json'), '{"names":["x"],"keyFile":"../../../etc/passwd","chainFile":"fullchain-s1.pem"}');
    assert.equal((await loadEntry(root, 'mx.example.test')).kind, 'unreadable');
    await writeFile(path.join(dir, 'meta.json'), 'garbage');
    assert.equal((await loadEntry(root, 'mx.example.test')).kind, 'unreadable');
  });
});
