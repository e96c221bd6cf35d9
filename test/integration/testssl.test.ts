// testssl.sh against the MX listener on 127.0.0.1 (--starttls smtp): only the renegotiation
// (-R) and cipher category (-s) checks, kept fast (-E, each cipher, takes a minute and grades
// nothing in testssl 3.0). It must find no client-initiated renegotiation and no LOW (or worse)
// cipher finding: CBC suites are testssl's "AVERAGE" category, graded LOW.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { run } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';

interface Finding {
  id: string;
  severity: string;
  finding: string;
}

const WEAK = new Set(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL']);

test('testssl.sh: no secure_client_renego, no LOW cipher findings on 25 (STARTTLS)', { timeout: 150_000 }, async (t) => {
  const dir = await tempDir(t);
  const daemon = await startSealpost(t);
  const json = path.join(dir, 'testssl.json');
  // Only loopback: the target is 127.0.0.1 and --ip pins it (no DNS, no other address).
  const result = await run(
    'testssl',
    [
      '--quiet',
      '--color',
      '0',
      '--warnings',
      'off',
      '--connect-timeout',
      '5',
      '--openssl-timeout',
      '5',
      '--ip',
      '127.0.0.1',
      '--starttls',
      'smtp',
      '-R',
      '-s',
      '--jsonfile',
      json,
      `127.0.0.1:${daemon.smtpPort}`,
    ],
    { timeoutMs: 130_000 },
  );
  const findings = JSON.parse(await readFile(json, 'utf8')) as Finding[];
  const summary = findings.map((f) => `${f.id} ${f.severity} ${f.finding}`).join('\n');
  assert.ok(
    findings.some((f) => f.id === 'secure_client_renego'),
    `testssl ran the renegotiation check\n${summary}\n${result.stdout.slice(-3000)}`,
  );
  assert.ok(
    findings.some((f) => f.id === 'cipherlist_STRONG' && /^offered/.test(f.finding)),
    `testssl graded the cipher categories\n${summary}`,
  );
  const weak = findings.filter((f) => (f.id === 'secure_client_renego' || f.id.startsWith('cipherlist_')) && WEAK.has(f.severity));
  assert.deepEqual(
    weak.map((f) => `${f.id} ${f.severity} ${f.finding}`),
    [],
    summary,
  );
});
