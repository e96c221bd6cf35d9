// config/prometheus-alerts.yml with Prometheus's own tools: `promtool check rules` (syntax, PromQL)
// and `promtool test rules` on prometheus-alerts.promtool.yml (each alert fires on the series it is
// meant for and not on those beside them, with its text rendered). No network; needs promtool
// (Debian's prometheus, scripts/install-test-peers).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { run } from '../helpers/proc.ts';

const RULES = path.resolve(import.meta.dirname, '../../config/prometheus-alerts.yml');
const UNIT_TESTS = path.resolve(import.meta.dirname, 'prometheus-alerts.promtool.yml');

test('promtool check rules accepts the alerting rules', { timeout: 30_000 }, async () => {
  const checked = await run('promtool', ['check', 'rules', RULES]);
  assert.equal(checked.code, 0, checked.stdout + checked.stderr);
  assert.match(checked.stdout, /SUCCESS: 6 rules found/);
});

test('promtool test rules: each alert fires when it should and only then', { timeout: 30_000 }, async () => {
  const tested = await run('promtool', ['test', 'rules', UNIT_TESTS]);
  assert.equal(tested.code, 0, tested.stdout + tested.stderr);
  assert.match(tested.stdout, /SUCCESS/);
});
