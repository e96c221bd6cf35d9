// Which files under data_dir the nodes share (pure): the ACME cache (certs/acme/**: account,
// certificates, staged keys), the DKIM keys (dkim/<domain>/<selector>.pem) and the SRS secret
// (srs/secret: a bounce to an SRS address one node made comes back to any), named by their '/'-separated path
// relative to data_dir. Never a path that climbs out ('..'), never one of the node's own files
// (certs/acme/status.json: this node's ACME status; certs/acme/control/**: requests to this
// daemon), never a writer's temporary file. `sealpost store migrate` copies the same set.

/** The folders of data_dir whose files every node keeps the same copy of. */
export const SHARED_ROOTS = ['certs/acme/', 'dkim/', 'srs/'] as const;

/** The shared files directly under each root: the SRS secret (dkim/<domain>/ and the ACME names are folders). */
const FLAT_ROOTS: readonly string[] = ['srs/'];

const LOCAL_ONLY = [/^certs\/acme\/status\.json$/, /^certs\/acme\/control(\/|$)/, /\.tmp-[0-9a-f]+$/];

/** Why `rel` is not a shared path, or undefined when it is one. */
export function sharedPathProblem(rel: string): string | undefined {
  if (rel === '' || rel.startsWith('/')) return `"${rel}" is not a path relative to data_dir`;
  if (/[\\\0]/.test(rel)) return `"${rel}" holds a backslash or NUL`;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return `"${rel}" has an empty, "." or ".." part`;
  const root = SHARED_ROOTS.find((r) => rel.startsWith(r));
  if (root === undefined || parts.length < (FLAT_ROOTS.includes(root) ? 2 : 3)) return `"${rel}" is outside ${SHARED_ROOTS.map((r) => `${r}**`).join(', ')}`;
  if (LOCAL_ONLY.some((re) => re.test(rel))) return `"${rel}" is this node's own file, never shared`;
  return undefined;
}

/** The shared path of an absolute `file` under `dataDir`, or undefined when it is not one. */
export function sharedPathOf(dataDir: string, file: string): string | undefined {
  const base = dataDir.replace(/\/+$/, '');
  if (!file.startsWith(`${base}/`)) return undefined;
  const rel = file.slice(base.length + 1);
  return sharedPathProblem(rel) === undefined ? rel : undefined;
}

/** The order a sync writes changed files in: every meta.json (the ACME cache's commit point) after the files it names. */
export function writeOrder(paths: readonly string[]): string[] {
  const isMeta = (p: string) => p.endsWith('/meta.json');
  return [...paths.filter((p) => !isMeta(p)).sort(), ...paths.filter(isMeta).sort()];
}
