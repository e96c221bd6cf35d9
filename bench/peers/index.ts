// The benchmark's peers besides Postfix: which exist, and starting the ones asked for, each once
// for the whole run (receiving for its own domain and, where it can, relaying to its own sink
// port). A peer that is not installed is skipped with a note, never a failed run.
// Side effects: the peers' daemons (stopped when the scope ends), their directories under `work`.
import path from 'node:path';
import { freePort } from '../../test/helpers/ports.ts';
import type { Scope } from '../../test/helpers/tmp.ts';
import type { ServerGroups } from '../cgroup.ts';
import { startChasquid } from './chasquid.ts';
import type { PeerServer } from './daemon.ts';
import { startExim } from './exim.ts';
import { startHaraka } from './haraka.ts';
import { installed } from './install.ts';
import { startOpensmtpd } from './opensmtpd.ts';

export const PEER_NAMES = ['exim', 'opensmtpd', 'chasquid', 'haraka'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export interface RunningPeer {
  readonly server: PeerServer;
  /** Where its relay delivers (the outbound case starts a sink there). */
  readonly sinkPort: number;
}

export async function startPeers(
  scope: Scope,
  root: string,
  names: readonly PeerName[],
  o: { work: string; cert: { certFile: string; keyFile: string }; groups: ServerGroups | undefined; say: (text: string) => void },
): Promise<Map<PeerName, RunningPeer>> {
  const running = new Map<PeerName, RunningPeer>();
  for (const name of names) {
    const dir = path.join(o.work, name);
    const port = await freePort();
    const sinkPort = await freePort();
    const group = o.groups?.group(name);
    try {
      let server: PeerServer;
      if (name === 'exim') {
        if (!installed('usr/sbin/exim4')) throw new Error('not installed (scripts/install-bench-peers)');
        server = await startExim(scope, { dir, port, sinkPort, cert: o.cert, group });
      } else if (name === 'opensmtpd') {
        if (!installed('usr/sbin/smtpd')) throw new Error('not installed (scripts/install-bench-peers)');
        server = await startOpensmtpd(scope, { dir, port, sinkPort, group });
      } else if (name === 'chasquid') {
        if (!installed('usr/bin/chasquid')) throw new Error('not installed (scripts/install-bench-peers)');
        server = await startChasquid(scope, { dir, port, submissionPorts: [await freePort(), await freePort()], cert: o.cert, group });
      } else {
        server = await startHaraka(scope, root, { dir, port, cert: o.cert, group });
      }
      running.set(name, { server, sinkPort });
      o.say(`  ${name} ${server.version} on 127.0.0.1:${port}`);
    } catch (err) {
      o.say(`  ${name}: skipped: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  return running;
}
