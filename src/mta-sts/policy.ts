// The MTA-STS policies we host (RFC 8461, pure): for each [[domain]] with mta_sts on, the policy
// file served at https://mta-sts.<domain>/.well-known/mta-sts.txt, its _mta-sts TXT record, and
// the id of that record, derived from the policy text so it changes exactly when the policy does.
import { createHash } from 'node:crypto';
import type { Config, MtaStsMode } from '../config/types.ts';

export interface HostedPolicy {
  domain: string;
  /** mta-sts.<domain>: the HTTPS name (and a name on our certificate). */
  host: string;
  mode: Exclude<MtaStsMode, 'none'>;
  /** The policy file, CRLF lines (RFC 8461 §3.2). */
  text: string;
  /** RFC 8461 §3.1: 1-32 letters or digits; here 16 hex digits of the policy's SHA-256. */
  id: string;
  /** The TXT record's owner name and value. */
  txtName: string;
  txt: string;
}

export const POLICY_PATH = '/.well-known/mta-sts.txt';

/** Every policy `config` hosts, in [[domain]] order. */
export function hostedPolicies(config: Pick<Config, 'hostname' | 'domains' | 'mtaSts'>): HostedPolicy[] {
  return config.domains.flatMap((d) => {
    const mode = d.mtaSts ?? 'none';
    if (mode === 'none') return [];
    const text = policyText(mode, [config.hostname, ...config.mtaSts.extraMx], config.mtaSts.maxAgeSeconds);
    const id = policyId(text);
    return [{ domain: d.name, host: `mta-sts.${d.name}`, mode, text, id, txtName: `_mta-sts.${d.name}`, txt: `v=STSv1; id=${id}` }];
  });
}

/** The names our certificate must carry for the policies: mta-sts.<domain> for each one hosted. */
export function policyHosts(config: Pick<Config, 'hostname' | 'domains' | 'mtaSts'>): string[] {
  return hostedPolicies(config).map((p) => p.host);
}

/** RFC 8461 §3.2: "version", "mode", one "mx" per host, "max_age", each line ending in CRLF. */
export function policyText(mode: Exclude<MtaStsMode, 'none'>, mx: readonly string[], maxAgeSeconds: number): string {
  return ['version: STSv1', `mode: ${mode}`, ...mx.map((m) => `mx: ${m}`), `max_age: ${maxAgeSeconds}`, ''].join('\r\n');
}

export function policyId(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** What the HTTPS listener answers for `host` and `path` (pure): the policy, or 404. */
export function policyReply(
  policies: readonly HostedPolicy[],
  method: string,
  host: string | undefined,
  path: string,
): { status: number; body: string; policy?: HostedPolicy } {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: 'method not allowed\n' };
  // The Host header may carry a port and a trailing dot; names are case-insensitive.
  const name = (host ?? '').replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
  const policy = policies.find((p) => p.host === name);
  if (!policy || (path.split('?')[0] ?? '') !== POLICY_PATH) return { status: 404, body: 'not found\n' };
  return { status: 200, body: policy.text, policy };
}
