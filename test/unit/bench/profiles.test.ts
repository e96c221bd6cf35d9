// Profiles across processes (bench/profiles.ts, bench/profile.ts): file names, the cut to a case's
// windows, the grouping by kind of work and the per-role rows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CpuProfile, selfTimeByNode, summarizeProfile } from '../../../bench/profile.ts';
import { acrossCases, formatCaseAcross, type Group, groupOf, parseProfileName, summarizeThread, threadLabel } from '../../../bench/profiles.ts';
import type { CaseResult } from '../../../bench/report.ts';

const ROOT = '/repo';

test('parseProfileName: pid and thread id of node --cpu-prof files; anything else is not one', () => {
  assert.deepEqual(parseProfileName('CPU.20261202.170155.15816.0.001.cpuprofile'), { pid: 15816, threadId: 0 });
  assert.deepEqual(parseProfileName('CPU.20261202.170155.15816.1.002.cpuprofile'), { pid: 15816, threadId: 1 });
  assert.equal(parseProfileName('CPU.20261202.170155.15816.1.002.cpuprofile.txt'), undefined);
  assert.equal(parseProfileName('other.cpuprofile'), undefined);
  const ran = (url: string) => ({ nodes: [{ id: 1, callFrame: { functionName: 'f', url, lineNumber: 0 }, hitCount: 1 }] });
  assert.equal(threadLabel(0, ran('file:///sealpost/src/main.ts')), 'event loop');
  assert.equal(threadLabel(1, ran('file:///sealpost/src/offload/thread.ts')), 'offload thread');
  assert.equal(threadLabel(1, ran('file:///sealpost/src/offload/writer-thread.ts')), 'Maildir writers', 'a writer started before the checks thread');
  assert.equal(threadLabel(3, ran('file:///sealpost/dist/offload/writer-thread.js')), 'Maildir writers');
});

test('groupOf: by file; native frames by a telling name, else as their caller', () => {
  const cases: [string, string, Group, Group][] = [
    // functionName, file label, the caller's group, expected
    ['prepare', 'node_modules/better-sqlite3', 'other', 'SQLite'],
    ['commit', 'src/db/open.ts', 'other', 'SQLite'],
    ['run', '', 'queue', 'SQLite'],
    ['run', '', 'other', 'SQLite'],
    ['writeUtf8String', '', 'IPC (postMessage/serialize)', 'IPC (postMessage/serialize)'],
    ['postMessage', '', 'mailauth', 'IPC (postMessage/serialize)'],
    ['writeChannelMessage', 'node:internal/child_process/serialization', 'other', 'IPC (postMessage/serialize)'],
    ['send', 'src/cluster/worker.ts', 'other', 'IPC (postMessage/serialize)'],
    ['encOut', '', 'TLS', 'TLS'],
    ['onConnectSecure', 'node:_tls_wrap', 'other', 'TLS'],
    ['_onCommand', 'node_modules/smtp-server', 'other', 'SMTP parsing'],
    ['onData', 'src/inbound/session.ts', 'other', 'SMTP parsing'],
    ['verify', 'node_modules/mailauth', 'other', 'mailauth'],
    ['check', 'src/mailauth/checks.ts', 'other', 'mailauth'],
    ['writeSync', 'node:fs', 'other', 'fs'],
    ['open', '', 'fs', 'fs'],
    ['onStreamRead', 'node:internal/stream_base_commons', 'other', 'net/streams'],
    ['enqueue', 'src/queue/store.ts', 'other', 'queue'],
    // dist/ is src/ compiled: the same modules
    ['insert', 'dist/queue/store.js', 'other', 'queue'],
    ['onData', 'dist/inbound/session.js', 'other', 'SMTP parsing'],
    ['inCur', 'dist/local/maildir.js', 'other', 'Maildir delivery'],
    ['wrapSafe', 'node:internal/modules/cjs/loader', 'other', 'module loading'],
    ['compileFunction', '', 'module loading', 'module loading'],
    ['processTicksAndRejections', 'node:internal/process/task_queues', 'other', 'ticks/timers'],
    ['(anonymous)', 'node_modules/tldts', 'other', 'mailauth'],
    ['write', 'node_modules/pino', 'other', 'logging'],
    ['(garbage collector)', '', 'other', 'GC'],
    ['(program)', '', 'other', '(program)'],
    ['x', 'src/core/ids.ts', 'TLS', 'other'],
  ];
  for (const [functionName, label, caller, want] of cases) {
    assert.equal(
      groupOf({ functionName, label }, () => caller),
      want,
      `${functionName} ${label}`,
    );
  }
});

/** root → main (src/inbound/session.ts) → run (native, under src/queue/store.ts); idle; GC. Samples 1 ms apart from t = 1000 µs. */
function profile(): CpuProfile {
  return {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 5, 6] },
      { id: 2, callFrame: { functionName: 'onData', url: 'file:///repo/src/inbound/session.ts', lineNumber: 9 }, children: [3] },
      { id: 3, callFrame: { functionName: 'enqueue', url: 'file:///repo/src/queue/store.ts', lineNumber: 19 }, children: [4] },
      { id: 4, callFrame: { functionName: 'run', url: '', lineNumber: -1 } },
      { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 6, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1 } },
    ],
    // at 2000, 3000, … 9000 µs
    samples: [2, 4, 4, 5, 5, 6, 3, 4],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
    startTime: 1000,
    endTime: 9000,
  };
}

test('selfTimeByNode: every sample, or those inside the windows', () => {
  assert.deepEqual(Object.fromEntries(selfTimeByNode(profile())), { 2: 1000, 4: 3000, 5: 2000, 6: 1000, 3: 1000 });
  assert.deepEqual(
    Object.fromEntries(
      selfTimeByNode(profile(), [
        [2000, 3000],
        [8000, 8000],
      ]),
    ),
    { 2: 1000, 4: 1000, 3: 1000 },
  );
  assert.equal(summarizeProfile(profile(), ROOT, 5, [[2000, 4000]]).totalMs, 3);
});

test('summarizeThread: busy time without (idle), grouped, the hottest functions, within the windows', () => {
  const all = summarizeThread(profile(), ROOT, [[0, 1e9]]);
  assert.equal(all.busyMs, 6);
  assert.deepEqual(
    all.groups.map((g) => [g.name, g.ms]),
    [
      ['SQLite', 3],
      ['SMTP parsing', 1],
      ['GC', 1],
      ['queue', 1],
    ].sort((a, b) => Number(b[1]) - Number(a[1]) || 0),
  );
  assert.equal(all.functions[0]?.name, 'run');
  assert.equal(all.functions[0]?.share, 0.5);
  const late = summarizeThread(profile(), ROOT, [[7500, 9000]]);
  assert.equal(late.busyMs, 2);
  assert.deepEqual(late.groups.map((g) => g.name).sort(), ['SQLite', 'queue']);
});

test('formatCaseAcross: CPU per message over the tree, then per role its process, event loop and offload thread with the profile beside', () => {
  const text = formatCaseAcross({
    title: 'accept (plain), C=20, 10240 B, 1000 messages',
    messages: 1000,
    roleCpu: {
      'session 1': { processMs: 900, loopMs: 600, offloadMs: 200, writersMs: 0 },
      primary: { processMs: 600, loopMs: 400, offloadMs: 0, writersMs: 0 },
    },
    groupCpuMs: 1600,
    profiles: {
      primary: {
        'event loop': { busyMs: 350, gcMs: 20, groups: [{ name: 'SQLite', ms: 100, share: 0.29 }], functions: [{ name: 'run', ms: 100, share: 0.29 }] },
      },
    },
  });
  const lines = text.split('\n');
  assert.match(lines[0] ?? '', /over the process tree \(\/proc\) 1\.50 ms; the cgroup: 1\.60 ms/);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  assert.ok(at(/^ {2}primary \(whole process\) +0\.60/) < at(/^ {2}session 1 \(whole process\) +0\.90/), text);
  assert.match(lines[at(/^ {2}primary \(whole process\)/) + 1] ?? '', /^ {4}event loop +0\.40 +0\.35 +SQLite 29 %/);
  assert.match(text, /^ {4}offload thread +0\.20 *$/m);
  assert.doesNotMatch(text, /primary[^\n]*\n {4}offload thread/, 'no offload row for a role without offload CPU or profile');
  assert.match(text, /primary, event loop: run 29 %/);
});

test('acrossCases: the cases Sealpost ran on a named daemon, in case order, with their /proc CPU per role (no profiles without a directory)', async () => {
  const side = (daemon?: string, error?: string) => ({
    messages: 100,
    acceptMs: 1000,
    drainMs: 1000,
    cpuMs: 300,
    ...(error ? { error } : {}),
    notes: daemon ? { daemon, windows: [[0, 1]], roleCpuMs: { primary: { processMs: 100, loopMs: 80, offloadMs: 0, writersMs: 0 } } } : {},
  });
  const c = (label: string, sealpost: ReturnType<typeof side>, extra: Partial<CaseResult> = {}): CaseResult => ({
    scenario: 'inbound',
    label,
    sessions: 20,
    size: 10240,
    messages: 100,
    sealpost,
    postfix: side(),
    ...extra,
  });
  const daemons = new Map([
    ['b', { roles: () => new Map([[1, 'primary']]) }],
    ['a', { roles: () => new Map([[1, 'primary']]) }],
  ]);
  const out = await acrossCases(
    [
      c('plain', side('a')),
      c('TLSv1.3', side('b'), { scenario: 'starttls', tlsKey: 'ecdsa', processes: 2 }),
      c('failed', side('a', 'x')),
      c('unknown', side('zzz')),
      c('none', side()),
    ],
    daemons,
    ROOT,
    true,
  );
  assert.deepEqual(
    out.map((x) => x.title),
    ['accept (plain), C=20, 10240 B, 100 messages', 'STARTTLS TLSv1.3, ECDSA P-256, C=20, 10240 B, 100 messages, [server] processes = 2'],
  );
  assert.equal(out[0]?.groupCpuMs, 300);
  assert.deepEqual(out[0]?.roleCpu, { primary: { processMs: 100, loopMs: 80, offloadMs: 0, writersMs: 0 } });
  assert.equal(out[0]?.profiles, undefined);
});
