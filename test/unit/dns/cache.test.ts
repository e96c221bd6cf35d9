import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cachingResolver } from '../../../src/dns/cache.ts';
import type { DnsAnswer, Resolver } from '../../../src/dns/resolver.ts';

function counting(answers: Record<string, DnsAnswer<string>>): { resolver: Resolver; asked: string[] } {
  const asked: string[] = [];
  const answer = async (name: string) => {
    asked.push(name);
    return answers[name] ?? { kind: 'nxdomain' as const };
  };
  return { asked, resolver: { resolveMx: async () => ({ kind: 'nodata' }), resolve4: answer, resolve6: answer, resolveTxt: answer } };
}

test('answers are reused until they expire; NXDOMAIN briefly; temporary failures never', async () => {
  let now = 0;
  const { resolver, asked } = counting({
    'a.test': { kind: 'records', records: ['192.0.2.1'] },
    'flaky.test': { kind: 'servfail', detail: 'SERVFAIL' },
  });
  const cached = cachingResolver(resolver, { now: () => now, positiveMs: 1000, negativeMs: 100 });
  assert.deepEqual(await cached.resolve4('a.test'), { kind: 'records', records: ['192.0.2.1'] });
  await cached.resolve4('A.TEST');
  assert.deepEqual(asked, ['a.test'], 'one query, case-insensitive');
  await cached.resolve6('a.test');
  assert.equal(asked.length, 2, 'types are cached apart');
  now = 1000;
  await cached.resolve4('a.test');
  assert.equal(asked.length, 3, 'asked again once expired');

  await cached.resolve4('gone.test');
  await cached.resolve4('gone.test');
  assert.equal(asked.filter((n) => n === 'gone.test').length, 1);
  now += 100;
  await cached.resolve4('gone.test');
  assert.equal(asked.filter((n) => n === 'gone.test').length, 2, 'negative answers expire sooner');

  await cached.resolve4('flaky.test');
  await cached.resolve4('flaky.test');
  assert.equal(asked.filter((n) => n === 'flaky.test').length, 2, 'SERVFAIL is asked again');
});

test('identical lookups in flight share one query; the cache stays within its size', async () => {
  const { resolver, asked } = counting({});
  const cached = cachingResolver(resolver, { now: () => 0, maxEntries: 2 });
  await Promise.all([cached.resolveTxt('x.test'), cached.resolveTxt('x.test'), cached.resolveTxt('x.test')]);
  assert.deepEqual(asked, ['x.test']);
  await cached.resolveTxt('y.test');
  await cached.resolveTxt('z.test');
  await cached.resolveTxt('x.test');
  assert.equal(asked.filter((n) => n === 'x.test').length, 2, 'the oldest entry made room');
});

test('a resolver class is cached too (its lookups live on the prototype), PTR and CNAME included', async () => {
  const asked: string[] = [];
  class Recording {
    private answer<T>(what: string, a: DnsAnswer<T>): Promise<DnsAnswer<T>> {
      asked.push(what);
      return Promise.resolve(a);
    }
    resolveMx(name: string) {
      return this.answer<{ exchange: string; preference: number }>(`MX ${name}`, { kind: 'nxdomain' });
    }
    resolve4(name: string) {
      return this.answer(`A ${name}`, { kind: 'records', records: ['192.0.2.1'] });
    }
    resolve6(name: string) {
      return this.answer<string>(`AAAA ${name}`, { kind: 'nodata' });
    }
    resolveTxt(name: string) {
      return this.answer<string>(`TXT ${name}`, { kind: 'nodata' });
    }
    resolveCname(name: string) {
      return this.answer<string>(`CNAME ${name}`, { kind: 'nxdomain' });
    }
  }
  const cached = cachingResolver(new Recording(), { now: () => 0 });
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(await cached.resolve4('a.test'), { kind: 'records', records: ['192.0.2.1'] });
    assert.deepEqual(await cached.resolveCname('a.test'), { kind: 'nxdomain' });
  }
  assert.deepEqual(asked, ['A a.test', 'CNAME a.test'], 'the second lookups came from the cache');
});

test('TLSA answers are cached too, with their secure flag', async () => {
  const asked: string[] = [];
  const answer = async (name: string): Promise<DnsAnswer<string>> => {
    asked.push(name);
    return { kind: 'records', records: ['x'], secure: true };
  };
  const inner = { resolveMx: async () => ({ kind: 'nodata' as const }), resolve4: answer, resolve6: answer, resolveTxt: answer, resolveTlsa: answer };
  const cached = cachingResolver(inner, { now: () => 0 });
  assert.deepEqual(await cached.resolveTlsa('_25._tcp.mx.test'), { kind: 'records', records: ['x'], secure: true });
  assert.deepEqual(await cached.resolveTlsa('_25._tcp.mx.test'), { kind: 'records', records: ['x'], secure: true });
  assert.deepEqual(asked, ['_25._tcp.mx.test']);
});
