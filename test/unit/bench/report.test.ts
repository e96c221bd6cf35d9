// The benchmark's peer table and scaling row (bench/report.ts formatPeers), and the peers' log counter.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { logCounter } from '../../../bench/peers/daemon.ts';
import {
  addUp,
  type BenchReport,
  busiestLoopMs,
  type CaseResult,
  formatPeers,
  formatTable,
  mergeNotes,
  processScaling,
  type SideFigures,
} from '../../../bench/report.ts';
import { benchConfig } from '../../../bench/sealpost.ts';

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

test('mergeNotes: numbers added, nested records too, lists joined, anything else the first round’s', () => {
  const merged = mergeNotes([
    { clientCpuMs: 10, tls: { version: 'TLSv1.3' }, daemon: 'inbound', windows: [[1, 2]], roleCpuMs: { primary: { processMs: 5, loopMs: 3 } } },
    {
      clientCpuMs: 7,
      tls: { version: 'TLSv1.2' },
      daemon: 'other',
      windows: [[3, 4]],
      roleCpuMs: { primary: { processMs: 1, loopMs: 1 }, 'session 1': { processMs: 2 } },
    },
  ]);
  assert.deepEqual(merged, {
    clientCpuMs: 17,
    tls: { version: 'TLSv1.3' },
    daemon: 'inbound',
    windows: [
      [1, 2],
      [3, 4],
    ],
    roleCpuMs: { primary: { processMs: 6, loopMs: 4 }, 'session 1': { processMs: 2 } },
  });
});

test('addUp: the rounds of a side summed; the first error kept', () => {
  const a: SideFigures = { messages: 10, acceptMs: 100, drainMs: 120, cpuMs: 50, notes: { resumed: 9 } };
  const b: SideFigures = { messages: 10, acceptMs: 200, drainMs: 220, cpuMs: 70, notes: { resumed: 10 } };
  assert.deepEqual(addUp([a, b]), { messages: 20, acceptMs: 300, drainMs: 340, cpuMs: 120, notes: { resumed: 19 } });
  const failed: SideFigures = { messages: 10, drainMs: 0, cpuMs: 0, error: 'x' };
  assert.equal(addUp([a, failed]).error, 'x');
});

test('formatTable: a STARTTLS row names its certificate key when the case has one', () => {
  const tls = (tlsKey?: 'rsa' | 'ecdsa'): CaseResult => ({ ...inbound({}), scenario: 'starttls', label: 'TLSv1.3 resumed', ...(tlsKey ? { tlsKey } : {}) });
  const text = formatTable(report([tls('rsa'), tls('ecdsa'), tls()]));
  assert.match(text, /inbound STARTTLS TLSv1\.3 resumed, RSA-2048, C=20/);
  assert.match(text, /inbound STARTTLS TLSv1\.3 resumed, ECDSA P-256, C=20/);
  assert.match(text, /inbound STARTTLS TLSv1\.3 resumed, C=20/);
});

test('benchConfig: [server] processes only when asked', () => {
  const o = { dir: '/tmp/x', port: 2525, dns: '127.0.0.1:53', sinkPort: 2526, relay: false };
  assert.doesNotMatch(benchConfig(o), /\[server\]/);
  assert.match(benchConfig({ ...o, processes: 2 }), /\[server\]\nprocesses = 2\n/);
  assert.match(benchConfig({ ...o, processes: 'auto' }), /\[server\]\nprocesses = "auto"\n/);
});

test('processScaling: each [server] processes count’s rate over the first’s, CPU per message, Postfix beside', () => {
  const base = inbound({ processes: 1, sealpost: { messages: 1000, acceptMs: 2000, drainMs: 2000, cpuMs: 2000 } });
  const two = inbound({
    label: '[server] processes = 2',
    processes: 2,
    sealpost: { messages: 1000, acceptMs: 1600, drainMs: 1600, cpuMs: 2400, notes: { eodMs: [{ p50: 3 }, { p50: 4 }] } },
  });
  const line = processScaling([base, inbound({ label: 'servers on one CPU', cpus: 1 }), two]);
  assert.equal(
    line,
    "Scaling with [server] processes (inbound C=20, 10 KiB; Sealpost's rate ÷ the first count's): 1: 500 msg/s (1.00), 2.00 ms CPU/msg, Postfix 500; 2: 625 msg/s (1.25), 2.40 ms CPU/msg, end of data → 250 p50 3.5 ms, Postfix 500",
  );
  assert.equal(processScaling([base]), undefined);
  assert.match(formatTable(report([base, two])), /inbound accept, processes = 1, C=20/);
});

test('busiestLoopMs: the busiest event loop of any process, else the primary’s loopCpuMs', () => {
  const roles = { primary: { processMs: 9, loopMs: 3, offloadMs: 1, writersMs: 0 }, 'session 1': { processMs: 9, loopMs: 7, offloadMs: 1, writersMs: 0 } };
  assert.equal(busiestLoopMs({ messages: 1, drainMs: 1, cpuMs: 1, notes: { loopCpuMs: 3, roleCpuMs: roles } }), 7);
  assert.equal(busiestLoopMs({ messages: 1, drainMs: 1, cpuMs: 1, notes: { loopCpuMs: 3 } }), 3);
  assert.ok(Number.isNaN(busiestLoopMs({ messages: 1, drainMs: 1, cpuMs: 1 })));
});
