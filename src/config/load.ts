// Reads a config file: TOML → validateConfig. The only place that touches the file system for config.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parse, TomlError } from 'smol-toml';
import type { Problem } from './fields.ts';
import { type ValidateOptions, validateConfig } from './schema.ts';
import { passwordFiles } from './transport.ts';
import type { Config } from './types.ts';

/** `warnings`: settings that work but should not be used (config check prints them, start logs them). */
export type Loaded = { ok: true; config: Config; file: string; warnings: Problem[] } | { ok: false; file: string; problems: Problem[] };

export async function loadConfig(file: string, options: ValidateOptions = {}): Promise<Loaded> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file; pass --config with the path of your sealpost.toml (see config/sealpost.example.toml)' : String(err);
    return { ok: false, file: absolute, problems: [{ path: '(file)', message: why }] };
  }
  let raw: Record<string, unknown>;
  try {
    raw = parse(text);
  } catch (err) {
    const message = err instanceof TomlError ? `TOML syntax error at line ${err.line}, column ${err.column}: ${err.message.split('\n')[0]}` : String(err);
    return { ok: false, file: absolute, problems: [{ path: '(syntax)', message }] };
  }
  const result = validateConfig(raw, path.dirname(absolute), options);
  if (result.ok) {
    const store = result.config.store;
    const storePassword = store.kind === 'postgres' && store.passwordFile ? [{ path: 'store.password_file', file: store.passwordFile }] : [];
    const problems = [
      ...(await checkPasswordFiles([...passwordFiles(result.config.outbound), ...storePassword])),
      ...(await checkSrsSecret(result.config.srs.secretFile)),
    ];
    if (problems.length > 0) return { ok: false, file: absolute, problems };
  }
  return result.ok ? { ok: true, config: result.config, file: absolute, warnings: result.warnings } : { ok: false, file: absolute, problems: result.problems };
}

/**
 * Smarthost and PostgreSQL password files: present, not empty, and readable by their owner only (mode 0600), as
 * ssh does for keys. Only their mode and size are looked at here; the courier reads the password
 * when it sends AUTH, so it is never part of the Config.
 */
async function checkPasswordFiles(files: readonly { path: string; file: string }[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const { path: keyPath, file } of files) {
    try {
      const s = await stat(file);
      if (!s.isFile()) problems.push({ path: keyPath, message: `${file} is not a file` });
      else if ((s.mode & 0o077) !== 0)
        problems.push({
          path: keyPath,
          message: `${file} is readable by others (mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}); it holds a password: run chmod 600 ${file}`,
        });
      else if (s.size === 0) problems.push({ path: keyPath, message: `${file} is empty; write the password into it (one line)` });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push({
        path: keyPath,
        message: code === 'ENOENT' ? `${file}: no such file; write the password into it and run chmod 600 ${file}` : `${file}: ${String(err)}`,
      });
    }
  }
  return problems;
}

/** The SRS secret file, when it exists (start makes it when absent): readable by its owner only. */
async function checkSrsSecret(file: string): Promise<Problem[]> {
  const s = await stat(file).catch(() => undefined);
  if (!s?.isFile() || (s.mode & 0o077) === 0) return [];
  const mode = (s.mode & 0o777).toString(8).padStart(4, '0');
  return [
    { path: 'srs.secret_file', message: `${file} is readable by others (mode ${mode}); whoever reads it can forge bounce addresses: run chmod 600 ${file}` },
  ];
}

export function formatProblems(file: string, problems: readonly Problem[]): string {
  const lines = problems.map((p) => `  ${p.path}: ${p.message}`);
  return `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${lines.join('\n')}`;
}

/** One line per warning: "FILE: warning: key.path: message". */
export function formatWarnings(file: string, warnings: readonly Problem[]): string {
  return warnings.map((w) => `${file}: warning: ${w.path}: ${w.message}\n`).join('');
}
