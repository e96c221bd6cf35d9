import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StsPolicy } from '../../../src/tls-policy/mta-sts.ts';
import { currentStsPolicy } from '../../../src/tls-policy/sts.ts';
import type { FetchResult } from '../../../src/tls-policy/sts-fetch.ts';
import { fakeResolver } from '../dns/fake-resolver.ts';

function memoryCache() {
  const rows = new Map<string, StsPolicy & { id: string; expiresAt: number }>();
  return {
    rows,
    get: async (domain: string, now: number) => {
      const r = rows.get(domain);
      return r && r.expiresAt > now ? r : undefined;
    },
    put: async (domain: string, id: string, policy: StsPolicy, now: number) => {
      const r = { ...policy, id, expiresAt: now + policy.maxAge * 1000 };
      rows.set(domain, r);
      return r;
    },
  };
}

const POLICY = 'version: STSv1\nmode: enforce\nmx: mx.sts.test\nmax_age: 100\n';

test('fetches when the id is new, uses the cache while the id is the same, refetches on change', async () => {
  let now = 1_000_000;
  let txt = ['v=STSv1; id=one'];
  let body: FetchResult = { ok: true, text: POLICY };
  const fetched: string[] = [];
  const problems: string[] = [];
  const cache = memoryCache();
  const deps = {
    resolver: fakeResolver({
      get '_mta-sts.sts.test'() {
        return { TXT: txt };
      },
    }),
    cache,
    now: () => now,
    fetch: async (d: string) => {
      fetched.push(d);
      return body;
    },
    report: (_d: string, p: string) => void problems.push(p),
  };
  const first = await currentStsPolicy('sts.test', deps);
  assert.equal(first?.mode, 'enforce');
  assert.equal(first?.id, 'one');
  await currentStsPolicy('sts.test', deps);
  assert.equal(fetched.length, 1, 'same id: cached');
  txt = ['v=STSv1; id=two'];
  body = { ok: true, text: POLICY.replace('enforce', 'testing') };
  assert.equal((await currentStsPolicy('sts.test', deps))?.mode, 'testing');
  assert.equal(fetched.length, 2);
  // The fetch fails: the cached policy stays in force until it expires.
  txt = ['v=STSv1; id=three'];
  body = { ok: false, error: 'HTTP 404' };
  assert.equal((await currentStsPolicy('sts.test', deps))?.id, 'two');
  assert.match(problems.at(-1) ?? '', /HTTP 404; using the cached policy/);
  now += 101_000;
  assert.equal(await currentStsPolicy('sts.test', deps), undefined, 'expired and not refetchable: no policy');
  // No TXT record: the cached policy still applies (RFC 8461 §5.1), none without a cache.
  body = { ok: true, text: POLICY };
  await currentStsPolicy('sts.test', deps);
  txt = [];
  assert.equal((await currentStsPolicy('sts.test', deps))?.id, 'three');
});

test('an invalid policy is reported and ignored', async () => {
  const problems: string[] = [];
  const policy = await currentStsPolicy('bad.test', {
    resolver: fakeResolver({ '_mta-sts.bad.test': { TXT: ['v=STSv1; id=1'] } }),
    cache: memoryCache(),
    now: () => 0,
    fetch: async () => ({ ok: true, text: '<html>' }),
    report: (_d, p) => void problems.push(p),
  });
  assert.equal(policy, undefined);
  assert.match(problems[0] ?? '', /policy invalid/);
});

test('RFC 8460 §4.3.2.2: each unusable policy is reported with its TLS report result type', async () => {
  const cases: [string, FetchResult, string][] = [
    ['fetch failed', { ok: false, error: 'HTTP 404' }, 'sts-policy-fetch-error'],
    ['certificate of the policy host', { ok: false, error: 'certificate is valid for x, not mta-sts.k.test', webpki: true }, 'sts-webpki-invalid'],
    ['not a policy', { ok: true, text: '<html>' }, 'sts-policy-invalid'],
  ];
  for (const [name, result, kind] of cases) {
    const kinds: string[] = [];
    await currentStsPolicy('k.test', {
      resolver: fakeResolver({ '_mta-sts.k.test': { TXT: ['v=STSv1; id=1'] } }),
      cache: memoryCache(),
      now: () => 0,
      fetch: async () => result,
      report: (_d, _p, k) => void kinds.push(k),
    });
    assert.deepEqual(kinds, [kind], name);
  }
});
