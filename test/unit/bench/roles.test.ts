// The Sealpost daemon's processes by role (bench/roles.ts): naming, CPU per role, differences.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProcessSample } from '../../../bench/proc.ts';
import { assignRoles, cpuByRole, roleCpuSince, roleOrder } from '../../../bench/roles.ts';

const proc = (pid: number, ppid: number, cpuMs: number, loop: number, offload: number, writers: number[] = []): ProcessSample => ({
  pid,
  ppid,
  cpuMs,
  threads: [
    { tid: pid, name: 'MainThread', cpuMs: loop },
    { tid: pid + 1, name: 'libuv-worker', cpuMs: 5 },
    { tid: pid + 2, name: 'inbound-checks', cpuMs: offload },
    ...writers.map((cpu, i) => ({ tid: pid + 3 + i, name: 'maildir-writer', cpuMs: cpu })),
  ],
});

test('assignRoles: the primary, then session processes numbered in pid order; a new one later gets the next number', () => {
  const first = assignRoles(100, [proc(100, 1, 0, 0, 0), proc(130, 100, 0, 0, 0), proc(120, 100, 0, 0, 0)]);
  assert.deepEqual(
    [...first].sort((a, b) => a[0] - b[0]),
    [
      [100, 'primary'],
      [120, 'session 1'],
      [130, 'session 2'],
    ],
  );
  // session 1 died and was restarted as 110 (a lower pid after wrap-around): a new number, the old names kept.
  const later = assignRoles(100, [proc(100, 1, 0, 0, 0), proc(110, 100, 0, 0, 0), proc(130, 100, 0, 0, 0)], first);
  assert.equal(later.get(110), 'session 3');
  assert.equal(later.get(120), 'session 1');
  assert.equal(later.get(130), 'session 2');
});

test('cpuByRole: the process, its main thread as the event loop, its inbound-checks thread as the offload thread, its maildir-writer threads added up', () => {
  const roles = new Map([
    [100, 'primary'],
    [120, 'session 1'],
  ]);
  const cpu = cpuByRole([proc(100, 1, 300, 200, 10, [20, 7]), proc(120, 100, 500, 350, 90), proc(140, 100, 7, 7, 0)], roles);
  assert.deepEqual(cpu, {
    primary: { processMs: 300, loopMs: 200, offloadMs: 10, writersMs: 27 },
    'session 1': { processMs: 500, loopMs: 350, offloadMs: 90, writersMs: 0 },
    'pid 140': { processMs: 7, loopMs: 7, offloadMs: 0, writersMs: 0 },
  });
});

test('roleCpuSince: after − before per role; a role new since counts from 0, one gone is left out', () => {
  const before = {
    primary: { processMs: 100, loopMs: 80, offloadMs: 1, writersMs: 0 },
    'session 1': { processMs: 50, loopMs: 40, offloadMs: 5, writersMs: 0 },
  };
  const after = {
    primary: { processMs: 400, loopMs: 280, offloadMs: 11, writersMs: 0 },
    'session 2': { processMs: 30, loopMs: 20, offloadMs: 2, writersMs: 0 },
  };
  assert.deepEqual(roleCpuSince(before, after), {
    primary: { processMs: 300, loopMs: 200, offloadMs: 10, writersMs: 0 },
    'session 2': { processMs: 30, loopMs: 20, offloadMs: 2, writersMs: 0 },
  });
});

test('roleOrder: primary, session 1, 2, 10, then the rest', () => {
  assert.deepEqual(['pid 7', 'session 10', 'session 2', 'primary', 'session 1'].sort(roleOrder), ['primary', 'session 1', 'session 2', 'session 10', 'pid 7']);
});
