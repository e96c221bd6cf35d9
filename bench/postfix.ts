// Postfix's side of the benchmark: a receiving Postfix (durable queue, virtual(8) Maildir
// delivery), a relaying Postfix (durable queue, relayhost = the sink), and Postfix's own load
// sink, smtp-sink. Built on test/helpers/postfix.ts. Side effects: Postfix
// instances and smtp-sink processes (stopped when the scope ends), files in temp directories.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type PostfixInstance, startPostfixReceiver, startPostfixSender } from '../test/helpers/postfix.ts';
import type { Scope } from '../test/helpers/tmp.ts';
import { waitForPort } from '../test/helpers/wait.ts';
import { groupCpuMs, groupPssKiB } from './proc.ts';

export const POSTFIX_DOMAIN = 'postfix.test';
export const POSTFIX_MAILBOX = `bench@${POSTFIX_DOMAIN}`;
/** The sink's domain: Sealpost finds it by MX (bench DNS), Postfix by relayhost. */
export const SINK_DOMAIN = 'sink.test';

export interface PostfixPeer {
  readonly instance: PostfixInstance;
  readonly port: number;
  cpuMs(): number;
  pssKiB(): number;
  /** Queue files in maildrop, incoming, active, deferred and hold. */
  queued(): number;
  /** Queue files in deferred alone. */
  deferred(): number;
  /** `postqueue -f`: deliver deferred mail now (also wakes throttled destinations). */
  flush(): Promise<void>;
  /** Files in the bench mailbox's Maildir new/ (receiver only). */
  maildirCount(): number;
}

/** Receives for postfix.test into Maildirs with its normal durable queue; STARTTLS with `cert`. */
export async function startReceivingPostfix(scope: Scope, port: number, cert: { certFile: string; keyFile: string }): Promise<PostfixPeer> {
  const instance = await startPostfixReceiver(scope, {
    name: 'bench-in',
    listen: { port },
    domains: [POSTFIX_DOMAIN],
    mailboxes: [POSTFIX_MAILBOX],
    tls: { level: 'may', certFile: cert.certFile, keyFile: cert.keyFile },
  });
  return peer(instance, port, path.join(instance.paths.mailDir, POSTFIX_DOMAIN, 'bench', 'new'));
}

/**
 * Accepts from 127.0.0.1 and relays everything to the sink at `sinkPort` (relayhost), with its
 * normal durable queue. Retries wait for `postqueue -f`: the test helper's 1 s backoff is undone.
 */
export async function startRelayingPostfix(scope: Scope, port: number, sinkPort: number): Promise<PostfixPeer> {
  const instance = await startPostfixSender(scope, {
    name: 'bench-out',
    relayTo: { host: '127.0.0.1', port: sinkPort },
    listen: { port },
    tls: { level: 'may' },
    mainCf: { queue_run_delay: '300s', minimal_backoff_time: '300s', maximal_backoff_time: '600s' },
  });
  return peer(instance, port, undefined);
}

function peer(instance: PostfixInstance, port: number, maildir: string | undefined): PostfixPeer {
  const countFiles = (dirs: string[]) => {
    let n = 0;
    for (const d of dirs) {
      try {
        for (const e of readdirSync(path.join(instance.paths.queueDir, d), { recursive: true, withFileTypes: true })) if (e.isFile()) n++;
      } catch {
        // not there yet
      }
    }
    return n;
  };
  return {
    instance,
    port,
    cpuMs: () => groupCpuMs(instance.masterPid),
    pssKiB: () => groupPssKiB(instance.masterPid),
    queued: () => countFiles(['maildrop', 'incoming', 'active', 'deferred', 'hold']),
    deferred: () => countFiles(['deferred']),
    flush: () => instance.flush(),
    maildirCount: () => {
      if (!maildir) return 0;
      try {
        return readdirSync(maildir).length;
      } catch {
        return 0;
      }
    },
  };
}

export interface Sink {
  readonly port: number;
  /** Messages received so far (smtp-sink -c counters). */
  messages(): number;
  stop(): Promise<void>;
}

/** smtp-sink on 127.0.0.1:port: accepts and discards; counts in `outFile`. */
export async function startSink(scope: Scope, port: number, outFile: string): Promise<Sink> {
  const fd = openSync(outFile, 'w');
  // -u: smtp-sink refuses to keep root privileges. Backlog 1024, up to 1024 sessions at once.
  const child = spawn('smtp-sink', ['-u', 'postfix', '-c', '-m', '1024', `127.0.0.1:${port}`, '1024'], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  scope.after(stop);
  await waitForPort('127.0.0.1', port, 10_000);
  return {
    port,
    messages: () => {
      const all = [...readFileSync(outFile, 'latin1').matchAll(/mesg=(\d+)/g)];
      return Number(all.at(-1)?.[1] ?? 0);
    },
    stop,
  };
}
