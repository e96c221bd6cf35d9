// The [inbound.rspamd] and [outbound.rspamd] sections (pure): where rspamd's normal worker
// listens, how long to wait for it, what to do when it cannot answer, Junk delivery, and whether
// mail from our own users is scanned too. No url: rspamd is off (and [outbound.rspamd] needs it).
import type { Reader, Table } from './fields.ts';
import type { RspamdConfig } from './types.ts';

export function readRspamd(r: Reader, inbound: Table, outbound: Table): RspamdConfig | null {
  r.unknownKeys(inbound, 'inbound.rspamd', ['url', 'timeout_ms', 'fail', 'junk_folder']);
  r.unknownKeys(outbound, 'outbound.rspamd', ['enabled']);
  const url = r.string(inbound, 'url', 'inbound.rspamd', '');
  const timeoutMs = r.integer(inbound, 'timeout_ms', 'inbound.rspamd', 10_000, 100, 300_000);
  const fail = r.oneOf(inbound, 'fail', 'inbound.rspamd', ['tempfail', 'accept'] as const, 'tempfail');
  const junkFolder = r.boolean(inbound, 'junk_folder', 'inbound.rspamd', false);
  const enabled = r.boolean(outbound, 'enabled', 'outbound.rspamd', false);
  if (url === '') {
    if (enabled) r.problem('outbound.rspamd.enabled', 'needs [inbound.rspamd] url = "http://127.0.0.1:11333" (the rspamd worker both directions use)');
    return null;
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (parsed?.protocol !== 'http:' || parsed.search !== '' || parsed.hash !== '') {
    r.problem('inbound.rspamd.url', `"${url}" is not the http:// URL of rspamd's normal worker; write e.g. "http://127.0.0.1:11333"`);
  }
  return { url, timeoutMs, fail, junkFolder, outbound: enabled };
}
