// The benchmark's peer table and scaling row (bench/report.ts formatPeers), and the peers' log counter.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { logCounter } from '../../../bench/peers/daemon.ts';
import { type BenchReport, type CaseResult, formatPeers, type SideFigures } from '../../../bench/report.ts';

const side = (messages: number, acceptMs: number): SideFigures => ({ messages, acceptMs, drainMs: acceptMs, cpuMs: 1 });

function report(cases: CaseResult[]): BenchReport {
  return {
    startedAt: '',
    machine: { cpus: 2, kernel: '', node: '24', postfix: '3.7.11', loadavgStart: [0], loadavgEnd: [0] },
    peers: { exim: '4.96', opensmtpd: '6.8.0p2' },
    cpuAccounting: 'cgroup v1',
    options: {},
    cases,
    memory: { idle: [] },
    errors: [],
    profiles: [],
  };
}

const inbound = (o: Partial<CaseResult>): CaseResult => ({
  scenario: 'inbound',
  label: 'plain',
  sessions: 20,
  size: 10240,
  messages: 1000,
  sealpost: side(1000, 1000),
  postfix: side(1000, 2000),
  ...o,
});

test('formatPeers: each peer’s rate and Sealpost’s ratio to it; n/a where a peer did not run the case', () => {
  const lines = formatPeers(report([inbound({ others: { exim: side(1000, 4000) } })]));
  const row = lines.find((l) => l.startsWith('inbound, C=20, 10 KiB'));
  assert.ok(row, lines.join('\n'));
  assert.deepEqual(
    row
      .trimEnd()
      .split(/\s{2,}/)
      .slice(1),
    ['1000', '500', '2.00', '250', '4.00', 'n/a'],
  );
  assert.match(lines.join('\n'), /Exim 4\.96, OpenSMTPD 6\.8\.0p2/);
});

test('formatPeers: the scaling row divides each server’s all-CPU rate by its one-CPU rate', () => {
  const lines = formatPeers(
    report([
      inbound({ others: { exim: side(1000, 4000) } }),
      inbound({ label: 'servers on one CPU', cpus: 1, sealpost: side(1000, 1600), postfix: side(1000, 3000), others: { exim: side(1000, 8000) } }),
    ]),
  );
  const scaling = lines.find((l) => l.startsWith('Scaling'));
  assert.equal(scaling, 'Scaling, 2 CPUs ÷ 1 CPU (inbound C=20, 10 KiB): Sealpost 1.60, Postfix 1.50, Exim 2.00, OpenSMTPD —');
});

test('formatPeers: nothing without other peers', () => {
  assert.deepEqual(formatPeers({ ...report([inbound({})]), peers: {} }), []);
});

test('logCounter: counts matching lines as the file grows, a partial last line once complete', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-log-'));
  try {
    const file = path.join(dir, 'log');
    const count = logCounter(file, / == /);
    assert.equal(count(), 0, 'no file yet');
    writeFileSync(file, 'a == b\nc\nd =');
    assert.equal(count(), 1);
    appendFileSync(file, '= e\nf\n');
    assert.equal(count(), 2, 'the partial line "d =" counted once, when complete ("d == e")');
    appendFileSync(file, 'x == y\n');
    assert.equal(count(), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
