// `sealpost doctor`'s report as text (grouped by family: ok / warning / error, with what was found,
// why it matters and the fix) and as JSON. Pure.
import { FAMILIES } from './families.ts';
import { counts, exitCode, type Finding } from './findings.ts';

const MARK = { ok: 'ok     ', warning: 'WARNING', error: 'ERROR  ' } as const;

export function renderText(findings: readonly Finding[], header: string): string {
  const lines = [header, ''];
  for (const family of FAMILIES) {
    const mine = findings.filter((f) => f.id.split('.')[0] === family.id || (family.id === 'cert' && f.id.startsWith('acme.')));
    if (mine.length === 0) continue;
    lines.push(`${family.title}`);
    for (const f of mine) {
      lines.push(`  ${MARK[f.level]} ${f.subject}: ${f.found}`);
      if (f.level !== 'ok') lines.push(`          why: ${f.why}`, `          fix: ${f.fix}`);
    }
    lines.push('');
  }
  const c = counts(findings);
  lines.push(`${c.error} error${c.error === 1 ? '' : 's'}, ${c.warning} warning${c.warning === 1 ? '' : 's'}, ${c.ok} ok`);
  return `${lines.join('\n')}\n`;
}

export function renderJson(findings: readonly Finding[], extra: Record<string, unknown>): string {
  return `${JSON.stringify({ ...extra, counts: counts(findings), exitCode: exitCode(findings), findings }, null, 2)}\n`;
}
