import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelBars, niceMax, segments, shareChart, stackedBars } from '../../../src/status-page/charts.ts';

const FROM = Date.UTC(2026, 10, 30, 22); // two hours before a UTC midnight
const attr = (svg: string, re: RegExp) => [...svg.matchAll(re)].map((m) => m[1]);

test('shareChart: one point per known share with its hour and value, gaps for hours without traffic', () => {
  const svg = shareChart({
    id: 'tls',
    title: 'TLS',
    from: FROM,
    series: [
      { name: 'in', key: 'inbound', values: [1, 0.5, null, 0.25] },
      { name: 'out', key: 'outbound', values: [null, null, null, 0] },
    ],
  });
  assert.ok(svg.startsWith('<svg class="chart" id="tls" xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.endsWith('</svg>'));
  assert.deepEqual(attr(svg, /<circle class="point s-inbound"[^>]*data-value="([^"]+)"/g), ['1', '0.5', '0.25']);
  assert.deepEqual(attr(svg, /<circle class="point s-inbound"[^>]*data-hour="([^"]+)"/g), ['2026-11-30T22:00Z', '2026-11-30T23:00Z', '2026-12-01T01:00Z']);
  assert.deepEqual(attr(svg, /<circle class="point s-outbound"[^>]*data-value="([^"]+)"/g), ['0']);
  // The null breaks the inbound line: one path of two points; a lone point makes no path.
  assert.equal((svg.match(/<path class="line s-inbound"/g) ?? []).length, 1);
  assert.equal((svg.match(/<path class="line s-outbound"/g) ?? []).length, 0);
  // The midnight inside the range gets its grid line and date.
  assert.match(svg, /<text class="axis"[^>]*>Tue, 01 Dec<\/text>/);
  assert.match(svg, /<title>in 2026-11-30T23:00Z: 50%<\/title>/);
});

test('stackedBars: one bar per non-zero count, stacked in order; the line gets points; the axis top is a round number', () => {
  const svg = stackedBars({
    id: 'm',
    title: 'Messages',
    from: FROM,
    stacks: [
      { name: 'delivered', key: 'delivered', values: [3, 0, 7] },
      { name: 'bounced', key: 'bounced', values: [1, 0, 0] },
    ],
    line: { name: 'received', key: 'received', values: [4, 0, 8] },
  });
  assert.deepEqual(attr(svg, /<rect class="bar s-delivered"[^>]*data-value="([^"]+)"/g), ['3', '7']);
  assert.deepEqual(attr(svg, /<rect class="bar s-bounced"[^>]*data-value="([^"]+)"/g), ['1']);
  assert.deepEqual(attr(svg, /<circle class="point s-received"[^>]*data-value="([^"]+)"/g), ['4', '8']);
  // The bounced bar sits on top of the delivered one of the same hour.
  const y = (re: RegExp) => Number(re.exec(svg)?.[1]);
  const delivered = { y: y(/class="bar s-delivered" x="[^"]+" y="([^"]+)"/), h: y(/class="bar s-delivered" [^>]*height="([^"]+)"/) };
  const bounced = { y: y(/class="bar s-bounced" x="[^"]+" y="([^"]+)"/), h: y(/class="bar s-bounced" [^>]*height="([^"]+)"/) };
  assert.ok(Math.abs(bounced.y + bounced.h - delivered.y) < 0.2, JSON.stringify({ delivered, bounced }));
  assert.match(svg, />10<\/text>/); // niceMax(8) on the axis
});

test('levelBars: one bar per item, labels escaped; an empty list says so', () => {
  const svg = levelBars({
    id: 'q',
    title: 'Queue',
    items: [
      { label: 'remote queued', key: 'queued', value: 5 },
      { label: '<held> & "x"', key: 'held', value: 0 },
    ],
  });
  assert.deepEqual(attr(svg, /<rect class="bar s-([a-z]+)"/g), ['queued', 'held']);
  assert.match(svg, /&lt;held&gt; &amp; &quot;x&quot;/);
  assert.ok(!svg.includes('<held>'));
  assert.match(levelBars({ id: 'q', title: 'Queue', items: [] }), /<text class="empty"[^>]*>empty<\/text>/);
});

test('all text is escaped: titles, names, keys become class-safe', () => {
  const svg = shareChart({ id: 'x"><script>', title: '<script>alert(1)</script>', from: FROM, series: [{ name: 'a&b <i>', key: 'k"><x', values: [0.5] }] });
  assert.ok(!svg.includes('<script>'));
  assert.ok(!svg.includes('<i>'));
  assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(svg, /class="point s-k---x"/);
  assert.match(svg, /id="x---script-"/);
});

test('niceMax and segments', () => {
  const table: [number, number][] = [
    [0, 1],
    [1, 1],
    [1.5, 2],
    [3, 5],
    [7, 10],
    [10, 10],
    [11, 20],
    [420, 500],
    [501, 1000],
  ];
  for (const [v, want] of table) assert.equal(niceMax(v), want, String(v));
  const x = (i: number) => i * 10;
  const y = (v: number) => v;
  assert.deepEqual(segments([1, 2, null, 3, Number.NaN, 4, 5], x, y), ['M0 1 L10 2', 'M50 4 L60 5']);
  assert.deepEqual(segments([], x, y), []);
});
