// The status page's charts (pure): data → an inline SVG string, no script. Hours run left to
// right from `from` (unix ms of the first hour, UTC), one slot per value; a day's boundary gets a
// grid line and its date. Every data point is an element a reader (or a test) can find: a
// <circle class="point"> per known share, a <rect class="bar"> per non-zero count, each with
// data-series, data-hour, data-value and a <title> tooltip. All text is escaped.
//
//   shareChart(spec)   shares 0..1 per hour as lines with points (null: no traffic, a gap)
//   stackedBars(spec)  counts per hour stacked by outcome, with an optional line (e.g. received)
//   levelBars(spec)    one horizontal bar per item (queue by state)
import { escapeText } from './escape.ts';

const HOUR = 3_600_000;
const WIDTH = 860;
const HEIGHT = 236;
const LEFT = 48;
const RIGHT = 12;
const TOP = 44;
const BOTTOM = 26;
const PLOT_W = WIDTH - LEFT - RIGHT;
const PLOT_H = HEIGHT - TOP - BOTTOM;

export interface Series {
  name: string;
  /** CSS-safe key: the class `s-<key>` colours it, data-series names it. */
  key: string;
  values: readonly (number | null)[];
}

export interface ShareSpec {
  id: string;
  title: string;
  from: number;
  series: readonly Series[];
}

export interface StackSpec {
  id: string;
  title: string;
  from: number;
  /** Drawn bottom to top in this order; nulls count as 0. */
  stacks: readonly Series[];
  line?: Series;
}

export interface LevelSpec {
  id: string;
  title: string;
  items: readonly { label: string; key: string; value: number }[];
}

export function shareChart(spec: ShareSpec): string {
  const hours = longest(spec.series);
  const x = slotX(hours);
  const y = (v: number) => TOP + PLOT_H - v * PLOT_H;
  const parts = [frame(spec.id, spec.title, spec.series), timeAxis(spec.from, hours), yAxis([0, 0.5, 1], y, (v) => `${Math.round(v * 100)}%`)];
  for (const s of spec.series) {
    parts.push(...segments(s.values, x, y).map((d) => `<path class="line s-${key(s.key)}" d="${d}"/>`));
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      const share = Math.min(1, Math.max(0, v));
      parts.push(
        `<circle class="point s-${key(s.key)}" cx="${n(x(i))}" cy="${n(y(share))}" r="2.2" data-series="${key(s.key)}" data-hour="${hourText(spec.from, i)}" data-value="${n(share, 4)}"><title>${escapeText(`${s.name} ${hourText(spec.from, i)}: ${Math.round(share * 100)}%`)}</title></circle>`,
      );
    });
  }
  return `${parts.join('')}</svg>`;
}

export function stackedBars(spec: StackSpec): string {
  const hours = longest([...spec.stacks, ...(spec.line ? [spec.line] : [])]);
  const totals = Array.from({ length: hours }, (_, i) => spec.stacks.reduce((sum, s) => sum + count(s.values[i]), 0));
  const max = niceMax(Math.max(0, ...totals, ...(spec.line?.values ?? []).map(count)));
  const y = (v: number) => TOP + PLOT_H - (v / max) * PLOT_H;
  const slot = PLOT_W / Math.max(1, hours);
  const barW = Math.max(1, slot * 0.8);
  const series = [...spec.stacks, ...(spec.line ? [spec.line] : [])];
  const parts = [frame(spec.id, spec.title, series), timeAxis(spec.from, hours), yAxis([0, max / 2, max], y, (v) => String(Math.round(v)))];
  for (let i = 0; i < hours; i++) {
    let base = 0;
    for (const s of spec.stacks) {
      const v = count(s.values[i]);
      if (v === 0) continue;
      parts.push(
        `<rect class="bar s-${key(s.key)}" x="${n(LEFT + i * slot + (slot - barW) / 2)}" y="${n(y(base + v))}" width="${n(barW)}" height="${n(y(base) - y(base + v))}" data-series="${key(s.key)}" data-hour="${hourText(spec.from, i)}" data-value="${v}"><title>${escapeText(`${s.name} ${hourText(spec.from, i)}: ${v}`)}</title></rect>`,
      );
      base += v;
    }
  }
  if (spec.line) {
    const line = spec.line;
    const x = slotX(hours);
    parts.push(...segments(line.values, x, y).map((d) => `<path class="line s-${key(line.key)}" d="${d}"/>`));
    line.values.forEach((v, i) => {
      if (count(v) === 0) return;
      parts.push(
        `<circle class="point s-${key(line.key)}" cx="${n(x(i))}" cy="${n(y(count(v)))}" r="2" data-series="${key(line.key)}" data-hour="${hourText(spec.from, i)}" data-value="${count(v)}"><title>${escapeText(`${line.name} ${hourText(spec.from, i)}: ${count(v)}`)}</title></circle>`,
      );
    });
  }
  return `${parts.join('')}</svg>`;
}

export function levelBars(spec: LevelSpec): string {
  const rowH = 22;
  const height = TOP + Math.max(1, spec.items.length) * rowH + 8;
  const labelW = 170;
  const max = niceMax(Math.max(0, ...spec.items.map((i) => i.value)));
  const w = (v: number) => ((WIDTH - labelW - RIGHT - 60) * v) / max;
  const parts = [
    `<svg class="chart" id="${key(spec.id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeText(spec.title)}">`,
    `<text class="title" x="0" y="16">${escapeText(spec.title)}</text>`,
  ];
  if (spec.items.length === 0) parts.push(`<text class="empty" x="${labelW}" y="${TOP + 15}">empty</text>`);
  spec.items.forEach((item, i) => {
    const top = TOP + i * rowH;
    parts.push(
      `<text class="label" x="${labelW - 8}" y="${top + 15}" text-anchor="end">${escapeText(item.label)}</text>`,
      `<rect class="bar s-${key(item.key)}" x="${labelW}" y="${top + 3}" width="${n(Math.max(item.value > 0 ? 1 : 0, w(item.value)))}" height="${rowH - 6}" data-series="${key(item.key)}" data-value="${item.value}"><title>${escapeText(`${item.label}: ${item.value}`)}</title></rect>`,
      `<text class="value" x="${n(labelW + w(item.value) + 6)}" y="${top + 15}">${item.value}</text>`,
    );
  });
  return `${parts.join('')}</svg>`;
}

/** The smallest of 1, 2, 5 × 10^k at or above `v` (at least 1): the top of a count axis. */
export function niceMax(v: number): number {
  if (!(v > 1)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Path data of the runs of known values ("M x y L x y …"); a null or non-finite value breaks the line. */
export function segments(values: readonly (number | null)[], x: (i: number) => number, y: (v: number) => number): string[] {
  const out: string[] = [];
  let run: string[] = [];
  const end = () => {
    if (run.length > 1) out.push(run.join(' '));
    run = [];
  };
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      end();
      return;
    }
    run.push(`${run.length === 0 ? 'M' : 'L'}${n(x(i))} ${n(y(v))}`);
  });
  end();
  return out;
}

function frame(id: string, title: string, series: readonly Series[]): string {
  // One row under the title, each entry as wide as its name.
  let lx = LEFT;
  const legend = series
    .map((s) => {
      const entry = `<rect class="swatch s-${key(s.key)}" x="${lx}" y="${TOP - 19}" width="10" height="10"/><text class="legend" x="${lx + 14}" y="${TOP - 10}">${escapeText(s.name)}</text>`;
      lx += 30 + s.name.length * 7;
      return entry;
    })
    .join('');
  return (
    `<svg class="chart" id="${key(id)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeText(title)}">` +
    `<text class="title" x="0" y="16">${escapeText(title)}</text>${legend}` +
    `<rect class="plot" x="${LEFT}" y="${TOP}" width="${PLOT_W}" height="${PLOT_H}"/>`
  );
}

/** A grid line and the date at each UTC midnight inside the range. */
function timeAxis(from: number, hours: number): string {
  const slot = PLOT_W / Math.max(1, hours);
  const out: string[] = [];
  for (let i = 0; i < hours; i++) {
    const at = from + i * HOUR;
    if (at % (24 * HOUR) !== 0) continue;
    const gx = LEFT + i * slot;
    const day = new Date(at).toUTCString().slice(0, 11); // "Mon, 30 Nov"
    out.push(`<line class="grid" x1="${n(gx)}" y1="${TOP}" x2="${n(gx)}" y2="${TOP + PLOT_H}"/>`);
    // The date right of its midnight, where it fits.
    if (gx + 72 <= WIDTH) out.push(`<text class="axis" x="${n(gx + 3)}" y="${HEIGHT - 8}">${escapeText(day)}</text>`);
  }
  return out.join('');
}

function yAxis(ticks: readonly number[], y: (v: number) => number, label: (v: number) => string): string {
  return ticks
    .map(
      (t) =>
        `<line class="grid" x1="${LEFT}" y1="${n(y(t))}" x2="${LEFT + PLOT_W}" y2="${n(y(t))}"/><text class="axis" x="${LEFT - 6}" y="${n(y(t) + 4)}" text-anchor="end">${escapeText(label(t))}</text>`,
    )
    .join('');
}

function slotX(hours: number): (i: number) => number {
  const slot = PLOT_W / Math.max(1, hours);
  return (i) => LEFT + i * slot + slot / 2;
}

function longest(series: readonly Series[]): number {
  return Math.max(0, ...series.map((s) => s.values.length));
}

function count(v: number | null | undefined): number {
  return v !== null && v !== undefined && Number.isFinite(v) && v > 0 ? v : 0;
}

function hourText(from: number, i: number): string {
  return `${new Date(from + i * HOUR).toISOString().slice(0, 13)}:00Z`;
}

/** A key as a CSS class and attribute value: letters, digits and "-" only. */
function key(k: string): string {
  return k.replace(/[^A-Za-z0-9-]/g, '-');
}

function n(v: number, digits = 1): string {
  return String(Math.round(v * 10 ** digits) / 10 ** digits);
}
