// Shared by the submission and mailauth integration tests: a data dir prepared through the real
// CLI (DKIM keys with `sealpost dkim keygen`, users with `sealpost user add`), a line-level SMTP
// client that can STARTTLS, and the independent DKIM verifier (Debian's dkimpy). Side effects:
// temp dirs, child processes (sealpost CLI, python3), sockets to loopback.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { run } from '../helpers/proc.ts';
import { mergeConfig, type Overrides, type SealpostToml, testDefaults, writeSealpostConfig } from '../helpers/sealpost-config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SEALPOST = path.join(ROOT, 'scripts', 'sealpost');
/** Debian's python3, which has dkimpy (python3-dkim); a pyenv python3 earlier on PATH may not. */
export const PYTHON = '/usr/bin/python3';

/**
 * Writes `overrides` (as the daemon will get them) to a config in `dir` and runs the CLI on it:
 * `dkim keygen` per key and `user add` per user. Returns the config file and each key's TXT record.
 */
export async function prepareWithCli(
  dir: string,
  overrides: Overrides<SealpostToml>,
  setup: { keys?: { domain: string; selector: string; type: 'rsa-2048' | 'ed25519' }[]; users?: { address: string; password: string }[] },
): Promise<{ configFile: string; records: Map<string, string> }> {
  await mkdir(dir, { recursive: true });
  const configFile = path.join(dir, 'cli.toml');
  await writeSealpostConfig(configFile, mergeConfig(testDefaults(path.join(dir, 'data'), { smtp: 1, acmeHttp: 2 }), overrides));
  const records = new Map<string, string>();
  for (const key of setup.keys ?? []) {
    const made = await run(SEALPOST, ['dkim', 'keygen', '--domain', key.domain, '--selector', key.selector, '--type', key.type, '--config', configFile]);
    assert.equal(made.code, 0, made.stderr);
    const line = made.stdout.split('\n').find((l) => l.startsWith(`${key.selector}._domainkey.${key.domain}. IN TXT`));
    assert.ok(line, made.stdout);
    // The zone line may continue over several lines: collect every quoted string after it.
    const from = made.stdout.indexOf(line);
    const zone = made.stdout.slice(from, made.stdout.indexOf('\n\n', from));
    records.set(`${key.selector}._domainkey.${key.domain}`, [...zone.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join(''));
  }
  for (const user of setup.users ?? []) {
    const added = await run(SEALPOST, ['user', 'add', user.address, '--config', configFile], { input: `${user.password}\n` });
    assert.equal(added.code, 0, added.stderr);
  }
  return { configFile, records };
}

export interface SmtpLines {
  /** Sends a line (or nothing) and resolves with the complete reply ("250-a\r\n250 b\r\n"). */
  command(line?: string): Promise<string>;
  /** STARTTLS, then the handshake (certificates not checked: the daemon's is self-signed). */
  starttls(): Promise<void>;
  close(): void;
}

/** A plain SMTP client for exact assertions on replies; `implicitTls` for port 465. */
export async function smtpLines(port: number, options: { implicitTls?: boolean; localAddress?: string } = {}): Promise<SmtpLines> {
  const local = options.localAddress === undefined ? {} : { localAddress: options.localAddress };
  let socket: net.Socket = options.implicitTls
    ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...local })
    : net.connect({ host: '127.0.0.1', port, ...local });
  let buffer = '';
  const waiters: ((reply: string) => void)[] = [];
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    if (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(buffer) && waiters.length > 0) {
      const reply = buffer;
      buffer = '';
      waiters.shift()?.(reply);
    }
  };
  socket.on('data', onData);
  socket.on('error', () => {});
  const command = (line?: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMTP reply to ${line ?? 'the greeting'} within 10 s`)), 10_000);
      waiters.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      if (line !== undefined) socket.write(`${line}\r\n`);
    });
  return {
    command,
    async starttls() {
      assert.match(await command('STARTTLS'), /^220 /);
      socket.off('data', onData);
      const plain = socket;
      socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
        const secure = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve(secure));
        secure.once('error', reject);
      });
      socket.on('data', onData);
      socket.on('error', () => {});
    },
    close: () => socket.destroy(),
  };
}

/** AUTH PLAIN's initial response (RFC 4616). */
export function plainToken(user: string, password: string): string {
  return Buffer.from(`\0${user}\0${password}`).toString('base64');
}

/**
 * dkimpy's verdict for each DKIM-Signature of `message`, with DNS answered from `records`
 * ("selector._domainkey.domain" → TXT): an independent implementation of RFC 6376 and RFC 8463.
 */
export async function dkimpyVerify(message: string | Buffer, records: ReadonlyMap<string, string>): Promise<boolean[]> {
  const script = [
    'import sys, json, dkim',
    'records = json.loads(sys.argv[1])',
    'msg = sys.stdin.buffer.read()',
    'def dnsfunc(name, timeout=5):',
    '    name = name.decode() if isinstance(name, bytes) else name',
    "    value = records.get(name.rstrip('.'))",
    '    return value.encode() if value is not None else None',
    "count = sum(1 for line in msg.split(b'\\r\\n\\r\\n', 1)[0].split(b'\\r\\n') if line.lower().startswith(b'dkim-signature:'))",
    'd = dkim.DKIM(msg)',
    'print(json.dumps([bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(count)]))',
  ].join('\n');
  const result = await run(PYTHON, ['-c', script, JSON.stringify(Object.fromEntries(records))], {
    input: typeof message === 'string' ? Buffer.from(message) : message,
    timeoutMs: 20_000,
  });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as boolean[];
}
