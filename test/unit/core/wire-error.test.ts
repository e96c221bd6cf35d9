import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromWireError, toWireError } from '../../../src/core/wire-error.ts';

test('an error keeps its message and code across a boundary (a storage fault stays one); anything else thrown is its text', () => {
  assert.deepEqual(toWireError(Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' })), { message: 'disk full', code: 'SQLITE_FULL' });
  assert.deepEqual(toWireError('odd'), { message: 'odd' });
  assert.deepEqual(toWireError(Object.assign(new Error('n'), { code: 7 })), { message: 'n' }, 'a code that is not a string is left out');
  const back = fromWireError({ message: 'no space', code: 'ENOSPC' }) as NodeJS.ErrnoException;
  assert.ok(back instanceof Error);
  assert.equal(back.message, 'no space');
  assert.equal(back.code, 'ENOSPC');
  assert.equal('code' in fromWireError({ message: 'plain' }), false);
});
