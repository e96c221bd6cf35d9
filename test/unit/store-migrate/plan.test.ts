// planCopy and convertValue (pure): which tables and columns `sealpost store migrate` copies, in
// which order, and each SQLite value as its PostgreSQL column's type takes it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConversionError, convertValue, type PgColumn, type PgTable, planCopy } from '../../../src/store-migrate/plan.ts';

const col = (name: string, type = 'text', extra: Partial<PgColumn> = {}): PgColumn => ({ name, type, identity: false, generated: false, ...extra });

describe('planCopy', () => {
  const pg: PgTable[] = [
    {
      name: 'recipients',
      columns: [col('id', 'bigint', { identity: true }), col('message_id'), col('state'), col('owner'), col('lease_until', 'bigint')],
      references: ['messages'],
    },
    { name: 'messages', columns: [col('id'), col('body', 'bytea'), col('smtputf8', 'boolean')], references: [] },
    { name: 'children', columns: [col('parent', 'bigint'), col('v'), col('total', 'bigint', { generated: true })], references: ['zeta', 'children'] },
    { name: 'zeta', columns: [col('id', 'bigint')], references: [] },
    { name: 'session_stats', columns: [col('hour', 'bigint')], references: [] },
    { name: 'sealpost_schema', columns: [col('version', 'integer')], references: [] },
    { name: 'nodes', columns: [col('name')], references: [] },
  ];
  const sqlite = [
    { name: 'messages', columns: ['id', 'body', 'smtputf8', 'spool', 'spool_offset'] },
    { name: 'recipients', columns: ['id', 'message_id', 'state'] },
    { name: 'children', columns: ['parent', 'v', 'total'] },
    { name: 'zeta', columns: ['id'] },
    { name: 'session_stats', columns: ['hour'] },
    { name: 'rspamd_stats', columns: ['hour'] },
    { name: 'local_delivery_stats', columns: ['hour'] },
    { name: 'attempts', columns: ['id'] },
    { name: 'sqlite_sequence', columns: ['name', 'seq'] },
  ];
  const plan = planCopy(sqlite, pg);

  test('copies the tables both have, referenced tables first', () => {
    assert.deepEqual(
      plan.copy.map((t) => t.table),
      ['zeta', 'children', 'messages', 'recipients'],
    );
  });

  test('writes the columns both have, never a generated one; says which SQLite columns stay behind', () => {
    const byName = new Map(plan.copy.map((t) => [t.table, t]));
    assert.deepEqual(
      byName.get('messages')?.columns.map((c) => c.name),
      ['id', 'body', 'smtputf8'],
    );
    assert.deepEqual(byName.get('messages')?.dropped, ['spool', 'spool_offset']);
    assert.deepEqual(
      byName.get('recipients')?.columns.map((c) => c.name),
      ['id', 'message_id', 'state'],
    );
    assert.equal(byName.get('recipients')?.identity, true);
    assert.equal(byName.get('messages')?.identity, false);
    assert.deepEqual(
      byName.get('children')?.columns.map((c) => c.name),
      ['parent', 'v'],
    );
  });

  test('leaves out node-local counts, bookkeeping and tables PostgreSQL does not have, saying why', () => {
    assert.deepEqual(plan.skipped, [
      { table: 'attempts', why: 'not in PostgreSQL' },
      { table: 'local_delivery_stats', why: 'node-local' },
      { table: 'rspamd_stats', why: 'node-local' },
      { table: 'session_stats', why: 'node-local' },
      { table: 'sqlite_sequence', why: 'bookkeeping' },
    ]);
  });
});

describe('convertValue', () => {
  const cases: { value: Parameters<typeof convertValue>[0]; type: string; want: unknown }[] = [
    { value: 1n, type: 'boolean', want: true },
    { value: 0n, type: 'boolean', want: false },
    { value: 1, type: 'boolean', want: true },
    { value: null, type: 'boolean', want: null },
    { value: 1_764_000_000_123n, type: 'bigint', want: '1764000000123' },
    { value: 9_007_199_254_740_993n, type: 'bigint', want: '9007199254740993' },
    { value: 42, type: 'integer', want: '42' },
    { value: Buffer.from([0, 255, 13, 10]), type: 'bytea', want: Buffer.from([0, 255, 13, 10]) },
    { value: 'text in a blob column', type: 'bytea', want: Buffer.from('text in a blob column') },
    { value: 'héllo', type: 'text', want: 'héllo' },
    { value: 7n, type: 'text', want: '7' },
    { value: '["a@b.test"]', type: 'jsonb', want: '["a@b.test"]' },
    { value: 2.5, type: 'double precision', want: 2.5 },
    { value: 3n, type: 'numeric', want: '3' },
    { value: 1000n, type: 'timestamp with time zone', want: new Date(1000) },
  ];
  for (const c of cases) {
    test(`${Buffer.isBuffer(c.value) ? `a blob of ${c.value.length}` : JSON.stringify(String(c.value))} into ${c.type}`, () => {
      assert.deepEqual(convertValue(c.value, col('c', c.type), 't'), c.want);
    });
  }

  test('refuses what the column cannot hold, naming the table and column', () => {
    assert.throws(
      () => convertValue(2n, col('smtputf8', 'boolean'), 'messages'),
      (e: unknown) => e instanceof ConversionError && /messages\.smtputf8: the value 2/.test(e.message),
    );
    assert.throws(() => convertValue('x', col('size', 'bigint'), 'messages'), ConversionError);
    assert.throws(() => convertValue(Buffer.from('a'), col('n', 'integer'), 't'), ConversionError);
  });
});
