// `sealpost init` on the file system: refuses to replace a config or key (writing nothing), takes
// the place of the unchanged example that scripts/install.sh leaves, and as root hands the keys
// to the owner of data_dir (the service user). Writes temp dirs only; no network.
import assert from 'node:assert/strict';
import { chown, copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { run } from '../../../src/cli/init.ts';
import { loadConfig } from '../../../src/config/load.ts';
import { tempDir } from '../../helpers/tmp.ts';

const EXAMPLE = path.resolve(import.meta.dirname, '../../../config/sealpost.example.toml');
const NOW = new Date('2026-12-02T00:00:00Z');

async function init(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) };
  const code = await run(['--domain', 'example.org', '--hostname', 'mx.example.org', '--ip', '203.0.113.7', ...args], sink, sink, () => [], NOW);
  return { code, out };
}

test('init refuses an existing config and writes nothing', { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'sealpost.toml');
  await writeFile(config, 'hostname = "mine.example"\n');
  const r = await init(['--config', config]);
  assert.equal(r.code, 1);
  assert.match(r.out, /sealpost\.toml exists; nothing was written/);
  assert.equal(await readFile(config, 'utf8'), 'hostname = "mine.example"\n');
  await assert.rejects(stat(path.join(dir, 'data', 'dkim', 'example.org', 'ed202612.pem')), { code: 'ENOENT' });
});

test('init replaces the unchanged example that install.sh put there', { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'sealpost.toml');
  await copyFile(EXAMPLE, config);
  const r = await init(['--config', config]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /in place of the unchanged example/);
  assert.match(await readFile(config, 'utf8'), /^hostname = "mx\.example\.org"$/m);
  assert.match(await readFile(config, 'utf8'), /^dkim_selectors = \["ed202612", "rsa202612"\]$/m);
});

test("as root, the keys go to the owner of data_dir and the config to its folder's group", {
  timeout: 30_000,
  skip: process.getuid?.() !== 0 && 'needs root',
}, async (t) => {
  const dir = await tempDir(t);
  const data = path.join(dir, 'var');
  await mkdir(data, { mode: 0o700 });
  await chown(data, 65534, 65534);
  const etc = path.join(dir, 'etc');
  await mkdir(etc);
  await chown(etc, 0, 65534);
  const r = await init(['--config', path.join(etc, 'sealpost.toml'), '--data-dir', data]);
  assert.equal(r.code, 0, r.out);
  for (const f of ['dkim', 'dkim/example.org', 'dkim/example.org/ed202612.pem', 'dkim/example.org/rsa202612.pem']) {
    const s = await stat(path.join(data, f));
    assert.equal(s.uid, 65534, f);
  }
  const key = await stat(path.join(data, 'dkim/example.org/rsa202612.pem'));
  assert.equal(key.mode & 0o777, 0o600);
  const conf = await stat(path.join(etc, 'sealpost.toml'));
  assert.deepEqual([conf.uid, conf.gid, conf.mode & 0o777], [0, 65534, 0o640]);
});

test('init: the status page and metrics are in the config, commented out; uncommented they are valid', { timeout: 30_000 }, async (t) => {
  const dir = await tempDir(t);
  const config = path.join(dir, 'sealpost.toml');
  assert.equal((await init(['--config', config])).code, 0);
  const text = await readFile(config, 'utf8');
  assert.match(text, /^# status_http = \["127\.0\.0\.1:8025"\]$/m);
  assert.match(text, /^# metrics = \["127\.0\.0\.1:9309"\]$/m);
  await writeFile(config, text.replace('# status_http = ', 'status_http = ').replace('# metrics = ', 'metrics = '));
  const loaded = await loadConfig(config);
  assert.ok(loaded.ok, loaded.ok ? '' : JSON.stringify(loaded.problems));
  assert.deepEqual(
    [loaded.config.listen.statusHttp.map((a) => `${a.host}:${a.port}`), loaded.config.listen.metrics.map((a) => `${a.host}:${a.port}`)],
    [['127.0.0.1:8025'], ['127.0.0.1:9309']],
  );
});
