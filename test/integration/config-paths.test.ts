// `sealpost config check` and `sealpost start` with configs that must not pass: a data_dir that
// is a file or on procfs, missing certificate files, relay.networks for the whole Internet; and
// the warnings (TLS 1.0, relay.allow_wide) that pass with exit 0, printed by check, logged by start.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Overrides, type SealpostToml, startSealpost } from '../helpers/daemon.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { mergeConfig, testDefaults, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';

const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');

async function configFile(dir: string, overrides: Overrides<SealpostToml>): Promise<string> {
  const file = path.join(dir, 'sealpost.toml');
  const config = mergeConfig(testDefaults(path.join(dir, 'data'), { smtp: await freePort(), acmeHttp: await freePort() }), overrides);
  await writeSealpostConfig(file, config);
  return file;
}

const check = (file: string) => run(SEALPOST, ['config', 'check', '--config', file], { timeoutMs: 30_000 });

describe('config check tests the paths and prints warnings', { timeout: 120_000 }, () => {
  test('data_dir a regular file, on /proc; missing cert/key files: exit 1 naming the key', { timeout: 60_000 }, async (t) => {
    const dir = await tempDir(t);
    const regular = path.join(dir, 'a-file');
    await writeFile(regular, '');
    const cases: [Overrides<SealpostToml>, string, RegExp][] = [
      [{ data_dir: regular }, 'data_dir', /is a regular file/],
      [{ data_dir: '/proc/sealpost-data' }, 'data_dir', /is on proc/],
      [{ tls: { cert_file: path.join(dir, 'nope.pem'), key_file: path.join(dir, 'nope.key') } }, 'tls.cert_file', /does not exist/],
    ];
    for (const [overrides, key, why] of cases) {
      const result = await check(await configFile(dir, overrides));
      assert.equal(result.code, 1, `${JSON.stringify(overrides)}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^  ${key.replace('.', '\\.')}: `, 'm'));
      assert.match(result.stderr, why);
      assert.doesNotMatch(result.stdout, /ok/);
    }
  });

  test('relay.networks for the whole Internet is refused; with relay.allow_wide it passes with a warning', { timeout: 60_000 }, async (t) => {
    const dir = await tempDir(t);
    for (const networks of [['0.0.0.0/0'], ['::/0'], ['0.0.0.0/1', '128.0.0.0/1']]) {
      const refused = await check(await configFile(dir, { relay: { networks } }));
      assert.equal(refused.code, 1, `${networks.join(', ')}: ${refused.stdout}${refused.stderr}`);
      assert.match(refused.stderr, /relay\.networks\[0\]: .*open relay.*relay\.allow_wide = true/);
    }
    const raw: Record<string, unknown> = { relay: { networks: ['0.0.0.0/0'], allow_wide: true } };
    const allowed = await check(await configFile(dir, raw as Overrides<SealpostToml>));
    assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
    assert.match(allowed.stdout, /: ok \(.*1 warning\)/);
    assert.match(allowed.stderr, /: warning: relay\.allow_wide: /);
  });

  test('tls.min_version TLSv1 and submission TLSv1.1: two warnings (RFC 8996), exit 0', { timeout: 30_000 }, async (t) => {
    const dir = await tempDir(t);
    const raw: Record<string, unknown> = { tls: { min_version: 'TLSv1' }, submission: { min_version: 'TLSv1.1' } };
    const result = await check(await configFile(dir, raw as Overrides<SealpostToml>));
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stderr, /: warning: tls\.min_version: "TLSv1" .*RFC 8996/);
    assert.match(result.stderr, /: warning: submission\.min_version: "TLSv1\.1" .*RFC 8996/);
    assert.match(result.stdout, /: ok \(.*2 warnings\)/);
  });
});

describe('start runs the same checks first', { timeout: 120_000 }, () => {
  test('data_dir on /proc: exits non-zero within seconds naming data_dir (and a SIGTERM would be heard)', { timeout: 30_000 }, async (t) => {
    const dir = await tempDir(t);
    const file = await configFile(dir, { data_dir: '/proc/sealpost-data' });
    const child = spawn(SEALPOST, ['start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('close', (code, signal) => resolve({ code, signal })),
    );
    const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), ms).unref())]);
    try {
      let result = await within(exited, 10_000);
      if (result === 'late') {
        // Still running: it must at least stop on SIGTERM (the old code spun in mkdir, deaf to it).
        child.kill('SIGTERM');
        result = await within(exited, 5_000);
        assert.notEqual(result, 'late', `no exit within 10 s, and none within 5 s of SIGTERM\nstdout: ${stdout}\nstderr: ${stderr}`);
        assert.fail(`did not exit by itself within 10 s (SIGTERM stopped it)\nstdout: ${stdout}\nstderr: ${stderr}`);
      }
      assert.notEqual(result.code, 0);
      assert.match(stderr, /^ {2}data_dir: \/proc\/sealpost-data does not exist and cannot be created: \/proc is on proc/m);
      assert.match(stderr, /not started/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  test('missing tls.cert_file: start refuses, naming the key', { timeout: 30_000 }, async (t) => {
    const dir = await tempDir(t);
    const file = await configFile(dir, { tls: { cert_file: path.join(dir, 'nope.pem'), key_file: path.join(dir, 'nope.key') } });
    const result = await run(SEALPOST, ['start', '--config', file], { timeoutMs: 20_000 });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /^ {2}tls\.cert_file: .*nope\.pem does not exist/m);
  });

  test('warnings are logged at start, one record each: relay.allow_wide used, TLS 1.0', { timeout: 60_000 }, async (t) => {
    const raw: Record<string, unknown> = { relay: { networks: ['0.0.0.0/1', '128.0.0.0/1', '127.0.0.1/32'], allow_wide: true }, tls: { min_version: 'TLSv1' } };
    const daemon = await startSealpost(t, { config: raw as Overrides<SealpostToml> });
    const warnings = daemon.findLogs({ event: 'daemon', state: 'config-warning' });
    assert.deepEqual(warnings.map((w) => w['key']).sort(), ['relay.allow_wide', 'tls.min_version']);
    for (const w of warnings) assert.equal(w.level, 'warn');
    assert.match(String(warnings.find((w) => w['key'] === 'relay.allow_wide')?.['warning']), /"0\.0\.0\.0\/1", "128\.0\.0\.0\/1"/);
  });
});
