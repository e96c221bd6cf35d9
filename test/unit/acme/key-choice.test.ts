// Which key a renewal uses: the current one (reuse_key), the staged one once rollover_after has
// passed, or a fresh one; never one of another type.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseKey, type KeyInput } from '../../../src/acme/key-choice.ts';

const DAY = 86_400_000;
const current = { keyPem: 'CURRENT', type: 'ecdsa-p256' as const };
const staged = { keyPem: 'STAGED', type: 'ecdsa-p256' as const, stagedAt: 10 * DAY };
const base: KeyInput = { keyType: 'ecdsa-p256', reuseKey: true, rolloverAfterMs: 2 * DAY, now: 11 * DAY };

test('chooseKey, table', { timeout: 5000 }, () => {
  const table: { name: string; input: Partial<KeyInput>; want: string }[] = [
    { name: 'first issuance', input: {}, want: 'new' },
    { name: 'renewal keeps the key', input: { current }, want: 'reuse CURRENT' },
    { name: 'reuse_key = false', input: { current, reuseKey: false }, want: 'new' },
    { name: 'key type changed to rsa-2048', input: { current, keyType: 'rsa-2048' }, want: 'new' },
    { name: 'staged, rollover_after not yet passed', input: { current, staged }, want: 'reuse CURRENT' },
    { name: 'staged, exactly rollover_after later', input: { current, staged, now: 12 * DAY }, want: 'staged STAGED' },
    { name: 'staged, long after', input: { current, staged, now: 40 * DAY }, want: 'staged STAGED' },
    { name: 'staged and reuse_key = false, due', input: { current, staged, reuseKey: false, now: 12 * DAY }, want: 'staged STAGED' },
    { name: 'staged key of another type is not used', input: { current, staged: { ...staged, type: 'rsa-2048' }, now: 12 * DAY }, want: 'reuse CURRENT' },
    { name: 'current key of an unknown type', input: { current: { keyPem: 'X', type: undefined } }, want: 'new' },
  ];
  for (const row of table) {
    const choice = chooseKey({ ...base, ...row.input });
    assert.equal(choice.kind === 'new' ? 'new' : `${choice.kind} ${choice.keyPem}`, row.want, row.name);
    assert.ok(choice.why.length > 0);
  }
});
