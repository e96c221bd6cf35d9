// Config reload on SIGHUP: read and validate the file again, compare it with the config in force,
// and say which changes a running daemon takes over at once and which need a restart. Pure,
// except readReload (reads the file) and logReload (logs).
//
// Taken over at once: [[domain]] (mailboxes, aliases, catch_all), [outbound] tls_policy and
// tls_default, [log] level. (The operator's certificate files are re-read on every SIGHUP by the
// TLS service, whatever the config says.) Everything else — listener addresses, data_dir,
// hostname, limits, queue, DNS, ACME, … — is reported as needing a restart and keeps its old value.
import { type Logger, mailLog } from '../log/log.ts';
import type { Problem } from './fields.ts';
import { loadConfig } from './load.ts';
import type { Config } from './types.ts';

/** One setting that differs, named by its TOML key ("listen.smtp", "outbound.tls_policy"). */
export interface ConfigChange {
  key: string;
  from: unknown;
  to: unknown;
}

export interface ReloadPlan {
  /** Changes the daemon takes over now. */
  applied: ConfigChange[];
  /** Changes that take effect only after a restart; until then the old values stay. */
  restart: ConfigChange[];
}

export type ReloadResult = { ok: true; file: string; config: Config; plan: ReloadPlan } | { ok: false; file: string; problems: Problem[] };

/** Config paths (top-level key, or "table.key") a running daemon swaps in. */
const RELOADABLE = new Set(['domains', 'outbound.tlsPolicy', 'outbound.tlsDefault', 'log.level']);

/** Config paths whose TOML key is not the plain snake_case of the path. */
const TOML_KEYS: Record<string, string> = {
  domains: 'domain',
  dkim: 'domain.dkim_selectors',
  'shutdown.graceSeconds': 'shutdown.grace_s',
  'limits.commandTimeoutSeconds': 'limits.command_timeout_s',
  'limits.stressTimeoutSeconds': 'limits.stress_timeout_s',
  'limits.memoryBytes': 'limits.memory_mb',
  'inbound.minFreeMegabytes': 'inbound.min_free_mb',
  'outbound.connectTimeoutSeconds': 'outbound.connect_timeout_s',
  'outbound.commandTimeoutSeconds': 'outbound.command_timeout_s',
  'outbound.transports': 'outbound.transport',
  'auth.lockoutSeconds': 'auth.lockout_s',
  'queue.minBackoffMs': 'queue.min_backoff',
  'queue.maxBackoffMs': 'queue.max_backoff',
  'queue.maxLifetimeMs': 'queue.max_lifetime',
  'queue.delayWarningMs': 'queue.delay_warning',
  'queue.attemptsRetentionMs': 'queue.attempts_retention',
  // [inbound.rspamd] and [outbound.rspamd] are one Config slice.
  rspamd: 'inbound.rspamd',
  'rspamd.url': 'inbound.rspamd.url',
  'rspamd.timeoutMs': 'inbound.rspamd.timeout_ms',
  'rspamd.fail': 'inbound.rspamd.fail',
  'rspamd.junkFolder': 'inbound.rspamd.junk_folder',
  'rspamd.outbound': 'outbound.rspamd.enabled',
};

/** Every setting that differs between the config in force and the new one, sorted into the two kinds. */
export function planReload(current: Config, next: Config): ReloadPlan {
  const plan: ReloadPlan = { applied: [], restart: [] };
  for (const [path, from, to] of differences(current, next)) {
    const change = { key: tomlKey(path), from, to };
    (RELOADABLE.has(path) ? plan.applied : plan.restart).push(change);
  }
  return plan;
}

/**
 * The config in force after a reload: the new reloadable settings, the old values of the rest.
 * A new frozen snapshot, swapped in as one reference; holders of the old one (a delivery under
 * way, the remote courier's `outbound()`) never see it change.
 */
export function applyReloadable(current: Config, next: Config): Config {
  return Object.freeze({
    ...current,
    domains: next.domains,
    outbound: Object.freeze({ ...current.outbound, tlsPolicy: next.outbound.tlsPolicy, tlsDefault: next.outbound.tlsDefault }),
    log: next.log,
  });
}

/** Reads and validates the config file again and plans the reload against the config in force. */
export async function readReload(file: string, current: Config): Promise<ReloadResult> {
  const loaded = await loadConfig(file);
  if (!loaded.ok) return { ok: false, file: loaded.file, problems: loaded.problems };
  return { ok: true, file: loaded.file, config: loaded.config, plan: planReload(current, loaded.config) };
}

/** The daemon's records of a reload: refused (with every problem), reloaded, restart needed. */
export function logReload(log: Logger, result: ReloadResult): void {
  if (!result.ok) {
    const n = result.problems.length;
    log.error(
      { event: 'daemon', state: 'reload-refused', file: result.file, problems: result.problems },
      `config reload refused: ${n} problem${n === 1 ? '' : 's'} in ${result.file} (${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}); the running config stays in force`,
    );
    return;
  }
  const { applied, restart } = result.plan;
  if (restart.length > 0) {
    log.warn(
      { event: 'daemon', state: 'restart-needed', changes: restart },
      `changed settings that take effect only after a restart: ${restart.map((c) => c.key).join(', ')}; they keep their old values until then (systemctl restart sealpost)`,
    );
  }
  // Last: a caller waiting for this record has seen the ones before it.
  mailLog(
    log,
    'daemon',
    { state: 'reloaded', file: result.file, applied: applied.map((c) => c.key), restartNeeded: restart.map((c) => c.key) },
    applied.length > 0 ? `config reloaded: ${applied.map((c) => c.key).join(', ')}` : 'config reloaded: no change to apply',
  );
}

/** [path, old, new] for each differing leaf: top-level values, or one level into tables. */
function differences(a: Config, b: Config): [string, unknown, unknown][] {
  const out: [string, unknown, unknown][] = [];
  const left = a as unknown as Record<string, unknown>;
  const right = b as unknown as Record<string, unknown>;
  for (const key of union(left, right)) {
    const x = left[key];
    const y = right[key];
    if (isTable(x) && isTable(y)) {
      for (const sub of union(x, y)) if (canonical(x[sub]) !== canonical(y[sub])) out.push([`${key}.${sub}`, x[sub], y[sub]]);
    } else if (canonical(x) !== canonical(y)) out.push([key, x, y]);
  }
  return out;
}

function union(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON with sorted keys: equal settings compare equal whatever order the file lists them in. */
function canonical(v: unknown): string {
  return (
    JSON.stringify(v, (_key, value: unknown) =>
      isTable(value)
        ? Object.fromEntries(
            Object.keys(value)
              .sort()
              .map((k) => [k, value[k]]),
          )
        : value,
    ) ?? 'undefined'
  );
}

function tomlKey(path: string): string {
  return TOML_KEYS[path] ?? path.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
