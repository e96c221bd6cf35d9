// The dependency direction of src/ (README "Layout"): no import cycles between files or between
// folders, and the layers that must not reach up do not. Reads the relative imports of every
// source file (static, `export … from` and dynamic `import()`), comments stripped.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

/** Folders each folder must never import from (besides "no cycles"). */
const FORBIDDEN: Record<string, readonly string[]> = {
  // The queue knows neither how mail arrives nor how it leaves.
  queue: ['inbound', 'intake', 'outbound', 'local', 'auth', 'cli', 'offload'],
  // Pure facts and decisions: nothing that does I/O or knows a protocol session.
  core: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload', 'acme', 'tls'],
  message: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload'],
  routing: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload'],
  config: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload', 'acme', 'tls', 'dns', 'db'],
  'tls-policy': ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli'],
  mailauth: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli'],
  auth: ['inbound', 'intake', 'outbound', 'local', 'queue', 'cli'],
  // TLSA records against certificates (pure): no protocol session, no I/O.
  dane: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload', 'acme'],
  // SMTP/LMTP client wire code shared by outbound/ and local/: neither may be reached from it.
  wire: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload'],
  outbound: ['inbound', 'intake', 'local', 'auth', 'cli'],
  local: ['inbound', 'intake', 'outbound', 'auth', 'cli'],
  // The SMTP side reaches the queue only through intake.
  inbound: ['queue', 'outbound', 'local', 'cli'],
  intake: ['inbound', 'outbound', 'local', 'cli'],
  // Counts from the log records and reads the tables: it knows no session, courier or worker.
  metrics: ['inbound', 'intake', 'outbound', 'local', 'auth', 'queue', 'cli', 'offload', 'acme'],
  // Copies tables and files generically: it knows no session, courier, worker or certificate code.
  'store-migrate': ['inbound', 'intake', 'outbound', 'local', 'auth', 'cli', 'offload', 'acme', 'tls', 'dkim'],
};

const STATIC = /(?:^|[\s;}])(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
const DYNAMIC = /import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** file (relative to src/) → the files it imports (relative to src/). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const targets = new Set<string>();
    for (const re of [STATIC, DYNAMIC]) {
      for (const m of text.matchAll(re)) targets.add(path.relative(SRC, path.resolve(path.dirname(file), m[1] as string)));
    }
    graph.set(path.relative(SRC, file), [...targets]);
  }
  return graph;
}

/** Strongly connected components with more than one member (Tarjan). */
function cycles(graph: Map<string, readonly string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const folderOf = (file: string): string | undefined => (file.includes(path.sep) ? file.split(path.sep)[0] : undefined);

describe('import graph of src/', () => {
  const graph = importGraph();

  test('every relative import names a file that exists', () => {
    const missing = [...graph].flatMap(([file, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${file} -> ${t}`));
    assert.deepEqual(missing, []);
  });

  test('no import cycle between files', () => {
    assert.deepEqual(cycles(graph), []);
  });

  test('no import cycle between folders', () => {
    const folders = new Map<string, string[]>();
    for (const [file, targets] of graph) {
      const from = folderOf(file);
      if (!from) continue;
      const to = new Set(folders.get(from) ?? []);
      for (const t of targets) {
        const folder = folderOf(t);
        if (folder && folder !== from) to.add(folder);
      }
      folders.set(from, [...to]);
    }
    assert.deepEqual(cycles(folders), []);
  });

  test('no folder imports from a layer above it', () => {
    const upward = [...graph].flatMap(([file, targets]) => {
      const banned = FORBIDDEN[folderOf(file) ?? ''] ?? [];
      return targets.filter((t) => banned.includes(folderOf(t) ?? '')).map((t) => `${file} -> ${t}`);
    });
    assert.deepEqual(upward, []);
  });

  test('the checker sees a cycle when there is one', () => {
    assert.deepEqual(
      cycles(
        new Map([
          ['a', ['b']],
          ['b', ['c']],
          ['c', ['a']],
          ['d', ['a']],
        ]),
      ),
      [['a', 'b', 'c']],
    );
  });
});
