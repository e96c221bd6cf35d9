// `certs renew` through the daemon: request files claimed by rename, answered with a result file.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { controlDir, requestRenewal, watchRenewRequests } from '../../../src/acme/control.ts';
import { tempDir } from '../../helpers/tmp.ts';

describe('renew control files', { timeout: 15_000 }, () => {
  it('the daemon answers a request with its result', async (t) => {
    const root = await tempDir(t);
    const seen: boolean[] = [];
    const watcher = await watchRenewRequests(
      root,
      async (request) => {
        seen.push(request.force);
        return { ok: true, messages: ['mx.example.test: issued certificate 01'] };
      },
      Date.now,
      200,
    );
    try {
      const answer = await requestRenewal(root, true, Date.now, { pickupMs: 3000, resultMs: 5000, pollMs: 20 });
      assert.equal(answer.kind, 'answered');
      assert.deepEqual(answer.kind === 'answered' && answer.result.messages, ['mx.example.test: issued certificate 01']);
      assert.deepEqual(seen, [true]);
      assert.deepEqual(await readdir(controlDir(root)), [], 'request, claim and result files are all cleaned up');
    } finally {
      watcher.close();
    }
  });

  it('a handler that throws still gets an answer', async (t) => {
    const root = await tempDir(t);
    const watcher = await watchRenewRequests(
      root,
      async () => {
        throw new Error('boom');
      },
      Date.now,
      200,
    );
    try {
      const answer = await requestRenewal(root, false, Date.now, { pickupMs: 3000, resultMs: 5000, pollMs: 20 });
      assert.equal(answer.kind === 'answered' && answer.result.ok, false);
      assert.match(answer.kind === 'answered' ? (answer.result.messages[0] ?? '') : '', /boom/);
    } finally {
      watcher.close();
    }
  });

  it('without a daemon the request is withdrawn: no-daemon', async (t) => {
    const root = await tempDir(t);
    const answer = await requestRenewal(root, false, Date.now, { pickupMs: 300, resultMs: 1000, pollMs: 20 });
    assert.deepEqual(answer, { kind: 'no-daemon' });
    assert.deepEqual(await readdir(controlDir(root)), []);
  });
});
