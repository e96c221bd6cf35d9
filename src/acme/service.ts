// What the daemon starts for [acme]: the HTTP-01 responder on listen.acme_http (when listed; with
// TLS-ALPN-01 the HTTPS listener answers, started by main.ts with the same `alpn` table) and the manager
// that swaps issued certificates into the cert store. All or nothing: if either cannot start,
// whatever started is stopped and the error says why (e.g. port 80 already taken).
// On several nodes (`nodes`, [store] kind = "postgres"): the cache is written to PostgreSQL too,
// only the renewer lock's holder orders, and the HTTP-01 responder answers from the shared table.
// Side effects: binds listen.acme_http; see manager.ts for the rest.
import type { Config } from '../config/types.ts';
import type { FileWriter } from '../core/durable-fs.ts';
import type { Logger } from '../log/log.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import type { CertStore } from '../tls/store.ts';
import { type AcmeManager, startAcme } from './manager.ts';
import { type ChallengeServer, type ChallengeTable, createChallengeTable, startChallengeServer } from './responder.ts';

/** What a node of several shares for ACME (src/shared-files/node.ts gives it). */
export interface AcmeNodes {
  files: FileWriter;
  leader: { held(): Promise<boolean> };
  challenges(local: ChallengeTable): ChallengeTable;
}

export interface AcmeService {
  readonly manager: AcmeManager;
  readonly responder: ChallengeServer;
  stop(): Promise<void>;
}

export async function startAcmeService(deps: {
  config: Config;
  store: Pick<CertStore, 'set'>;
  log: Logger;
  clock: { now(): number };
  alpn?: AlpnChallenges;
  nodes?: AcmeNodes;
}): Promise<AcmeService> {
  const challenges = deps.nodes ? deps.nodes.challenges(createChallengeTable()) : createChallengeTable();
  const responder = await startChallengeServer(deps.config.listen.acmeHttp, challenges, deps.log);
  let manager: AcmeManager;
  try {
    manager = await startAcme({
      config: deps.config,
      store: deps.store,
      challenges,
      log: deps.log,
      clock: deps.clock,
      ...(deps.alpn ? { alpn: deps.alpn } : {}),
      ...(deps.nodes ? { files: deps.nodes.files, leader: deps.nodes.leader } : {}),
    });
  } catch (err) {
    await responder.close();
    throw err;
  }
  return {
    manager,
    responder,
    async stop() {
      await manager.stop();
      await responder.close();
    },
  };
}
