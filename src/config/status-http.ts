// The [status_http] section (pure): the password file of the status page's HTTP basic auth, and
// the rule that keeps the page private: an address off loopback needs a password file (the page
// is then served over HTTPS with our certificate, so the password never crosses in clear).
import net from 'node:net';
import path from 'node:path';
import type { Reader, Table } from './fields.ts';
import type { ListenAddress, StatusHttpConfig } from './types.ts';

export function readStatusHttp(r: Reader, t: Table, addresses: readonly ListenAddress[], baseDir: string): StatusHttpConfig {
  r.unknownKeys(t, 'status_http', ['password_file']);
  const passwordFile = r.string(t, 'password_file', 'status_http', '');
  if (passwordFile === '') {
    addresses.forEach((a, i) => {
      if (!isLoopbackHost(a.host))
        r.problem(
          `listen.status_http[${i}]`,
          `"${a.host}" is not a loopback address and [status_http] password_file is not set: the status page would be open to anyone who reaches it; set password_file = "/etc/sealpost/status.passwd" (lines "user:password", mode 0600), or listen on "127.0.0.1:8025"`,
        );
    });
  }
  return { passwordFile: passwordFile && path.resolve(baseDir, passwordFile) };
}

/** 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; a wildcard address (0.0.0.0, ::) is not loopback. */
export function isLoopbackHost(host: string): boolean {
  if (net.isIPv4(host)) return host.startsWith('127.');
  const lower = host.toLowerCase();
  if (lower === '::1' || lower === '0:0:0:0:0:0:0:1') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower)?.[1];
  return mapped?.startsWith('127.') === true;
}
