// The config's paths against the file system, a step after the pure validation: data_dir can be
// used (exists or can be created, a directory, writable, on a real file system) and the
// certificate files can be read, parse and go together, and the status page's password file is
// the owner's only. Every problem names its key and the fix. The file system arrives as
// `PathFs` (nodePathFs() is the real one); only that touches it (and the password file's check).
//
//   checkPaths(config, fs)  → Problem[] ([] when all is well)
//   mountTypeOf(mountinfo, path) → the file-system type /proc/self/mountinfo gives for a path (pure)
import { constants } from 'node:fs';
import { access, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Problem } from '../config/fields.ts';
import type { Config } from '../config/types.ts';
import { loadPasswordFile } from '../status-page/password-file.ts';
import { loadCertFiles } from '../tls/files.ts';

export interface PathFs {
  /** What is at `file` (following symlinks), or the errno code: 'ENOENT', 'EACCES', 'ENOTDIR', … */
  kind(file: string): Promise<'directory' | 'file' | 'other' | { error: string }>;
  /** undefined when this process may create files in the directory `dir`; else the errno code ('EACCES', 'EROFS'). */
  writable(dir: string): Promise<string | undefined>;
  /** The type of the file system holding the existing `file` ("ext4", "tmpfs", "proc", …), or undefined if unknown. */
  fsType(file: string): Promise<string | undefined>;
  readText(file: string): Promise<string>;
}

/**
 * Kernel interfaces, not storage: a file written there is not kept (or mkdir(2) fails in odd
 * ways: procfs answers ENOENT under an existing /proc, which made Node's recursive mkdir spin).
 */
export const PSEUDO_FILE_SYSTEMS: ReadonlySet<string> = new Set([
  'proc',
  'sysfs',
  'devtmpfs',
  'devpts',
  'cgroup',
  'cgroup2',
  'debugfs',
  'tracefs',
  'securityfs',
  'pstore',
  'bpf',
  'configfs',
  'efivarfs',
  'fusectl',
  'binfmt_misc',
  'mqueue',
]);

const DATA_DIR_FIX = 'point data_dir at a directory on a disk that the sealpost user may write, e.g. "/var/lib/sealpost"';

export async function checkPaths(config: Pick<Config, 'dataDir' | 'tls'> & Partial<Pick<Config, 'statusHttp'>>, fs: PathFs): Promise<Problem[]> {
  const problems: Problem[] = [];
  const dataDir = await checkDataDir(config.dataDir, fs);
  if (dataDir !== undefined) problems.push({ path: 'data_dir', message: dataDir });
  if (config.tls.certFile !== '' && config.tls.keyFile !== '') {
    const loaded = await loadCertFiles(config.tls.certFile, config.tls.keyFile, fs.readText);
    if (!loaded.ok) {
      const key = loaded.file === config.tls.certFile ? 'tls.cert_file' : 'tls.key_file';
      // The reasons start with the key name already; the problem's path carries it.
      problems.push({ path: key, message: loaded.reason.startsWith(`${key} `) ? loaded.reason.slice(key.length + 1) : loaded.reason });
    }
  }
  // Read for real, not through `fs`: its mode matters (status-page/password-file.ts).
  const passwordFile = config.statusHttp?.passwordFile ?? '';
  if (passwordFile !== '') {
    const loaded = await loadPasswordFile(passwordFile);
    if (!loaded.ok) problems.push({ path: 'status_http.password_file', message: loaded.problem });
  }
  return problems;
}

/** Why data_dir cannot be used, or undefined. */
async function checkDataDir(dataDir: string, fs: PathFs): Promise<string | undefined> {
  const what = await fs.kind(dataDir);
  if (what === 'directory') return usable(dataDir, dataDir, fs);
  if (what === 'file' || what === 'other')
    return `${dataDir} is ${what === 'file' ? 'a regular file' : 'not a directory'}; ${DATA_DIR_FIX} (it is created if missing)`;
  if (what.error === 'ENOTDIR') return `a parent of ${dataDir} is a file, not a directory; ${DATA_DIR_FIX}`;
  if (what.error !== 'ENOENT')
    return `${dataDir} cannot be looked at (${what.error}${what.error === 'EACCES' ? ': permission denied on a parent directory' : ''}); ${DATA_DIR_FIX}`;
  // Missing: it is created at start, under its nearest existing ancestor.
  for (let at = path.dirname(dataDir); ; at = path.dirname(at)) {
    const parent = await fs.kind(at);
    if (parent === 'directory') return usable(dataDir, at, fs);
    if (parent === 'file' || parent === 'other') return `${dataDir} does not exist and cannot be created: ${at} is not a directory; ${DATA_DIR_FIX}`;
    if (parent.error !== 'ENOENT') return `${dataDir} does not exist and cannot be created: ${at} cannot be looked at (${parent.error}); ${DATA_DIR_FIX}`;
    if (path.dirname(at) === at) return `${dataDir} does not exist and cannot be created; ${DATA_DIR_FIX}`;
  }
}

/** `dir` exists (it is data_dir itself, or the ancestor data_dir would be created in). */
async function usable(dataDir: string, dir: string, fs: PathFs): Promise<string | undefined> {
  const prefix = dir === dataDir ? `${dataDir}` : `${dataDir} does not exist and cannot be created: ${dir}`;
  const type = await fs.fsType(dir);
  if (type !== undefined && PSEUDO_FILE_SYSTEMS.has(type)) return `${prefix} is on ${type}, a kernel file system that stores nothing; ${DATA_DIR_FIX}`;
  const denied = await fs.writable(dir);
  if (denied === 'EROFS') return `${prefix} is on a read-only file system; ${DATA_DIR_FIX} (under systemd, add it to ReadWritePaths=)`;
  if (denied !== undefined)
    return `${prefix} is not writable by this process (${denied}); make it the sealpost user's (chown sealpost ${dir}) or ${DATA_DIR_FIX}`;
  return undefined;
}

/**
 * The fstype of the mount that holds `file` (an absolute, resolved path): the longest mount
 * point that is `file` or a parent of it; the last such line wins (a later mount hides an
 * earlier one). Format: proc(5), /proc/[pid]/mountinfo; octal escapes such as \040 in paths.
 */
export function mountTypeOf(mountinfo: string, file: string): string | undefined {
  let best: { point: string; type: string } | undefined;
  for (const line of mountinfo.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const point = left.split(' ')[4];
    const type = right.split(' ')[0];
    if (point === undefined || type === undefined) continue;
    const decoded = point.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
    const inside = decoded === '/' || file === decoded || file.startsWith(`${decoded}/`);
    if (inside && (best === undefined || decoded.length >= best.point.length)) best = { point: decoded, type };
  }
  return best?.type;
}

/** The real file system, for checkPaths. */
export function nodePathFs(mountinfoFile = '/proc/self/mountinfo'): PathFs {
  const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? String(err);
  return {
    async kind(file) {
      try {
        const s = await stat(file);
        return s.isDirectory() ? 'directory' : s.isFile() ? 'file' : 'other';
      } catch (err) {
        return { error: code(err) };
      }
    },
    async writable(dir) {
      try {
        await access(dir, constants.W_OK | constants.X_OK);
        return undefined;
      } catch (err) {
        return code(err);
      }
    },
    async fsType(file) {
      try {
        return mountTypeOf(await readFile(mountinfoFile, 'utf8'), await realpath(file));
      } catch {
        return undefined; // no /proc (not Linux, or not mounted): nothing to tell
      }
    },
    readText: (file) => readFile(file, 'utf8'),
  };
}
