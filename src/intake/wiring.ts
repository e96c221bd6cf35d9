// What both composition roots (src/main.ts, src/cluster/worker.ts) build for the intake before
// anything listens: the DKIM keys and signer, the SRS secret and its directory entry, the ARC key,
// the inbound checks' settings, and the intake's check and signing deps from them.
// Side effects: loadSigning reads the key files and may create the SRS secret (through the shared
// writer on PostgreSQL, so every node signs with the first node's secret).
import { prepareOutgoing } from '../auth/submission.ts';
import type { Config } from '../config/types.ts';
import type { FileWriter } from '../core/durable-fs.ts';
import { type DkimKey, loadDkimKeys } from '../dkim/keys.ts';
import { createLiveDkimSigner, type DkimSigner } from '../dkim/signer.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { cachedSpf } from '../mailauth/spf-cache.ts';
import type { BodyFeed, SPFResult, SpfInput, Verdict, VerifyInput } from '../mailauth/verify.ts';
import type { Directory } from '../routing/recipients.ts';
import { createRspamdClient } from '../rspamd/client.ts';
import type { ScanDirection } from '../rspamd/verdict.ts';
import { loadSrsSecrets } from '../srs/secret.ts';
import { type SrsKeys, srsReverse } from '../srs/srs.ts';
import type { IntakeDeps } from './intake.ts';

export interface Signing {
  readonly dkimKeys: readonly DkimKey[];
  readonly signer: DkimSigner;
  /** The SRS secrets and domain (outbound/forward.ts rewrites with them). */
  readonly srsKeys: SrsKeys;
  /** The SRS secret file was made just now (the daemon says so once). */
  readonly srsCreated: boolean;
  /** Bounces to our SRS addresses, for buildDirectory; undefined without an [srs] domain. */
  readonly srsDirectory: Directory['srs'];
  /** RFC 8617 ARC sets are signed like DKIM: the [srs] domain's key, RSA first (verified most widely). */
  readonly arcKey: DkimKey | undefined;
  /**
   * Reads the configured DKIM keys again and signs with them from now on (SIGHUP, or a key synced
   * from another node); throws, keeping the keys in use, when one is missing or unusable. The
   * selectors are the config's at start (a new selector needs a restart); the ARC key stays.
   */
  reloadDkim(): Promise<{ changed: string[] }>;
}

/** Every configured DKIM key and the SRS secret: a missing one is a start-up error, never unsigned mail. */
export async function loadSigning(config: Config, now: () => number, files?: FileWriter): Promise<Signing> {
  const dkimKeys = await loadDkimKeys(config.dataDir, config.dkim);
  const srs = await loadSrsSecrets(config.srs.secretFile, files);
  if (!srs.ok) throw new Error(`srs.secret_file: ${srs.problem}`);
  const srsKeys: SrsKeys = { secrets: srs.secrets, domain: config.srs.domain };
  const signer = createLiveDkimSigner(dkimKeys);
  let inUse = dkimKeys;
  const arcKey = config.arc.enabled
    ? (dkimKeys.find((k) => k.domain === config.srs.domain && k.algorithm === 'rsa-sha256') ?? dkimKeys.find((k) => k.domain === config.srs.domain))
    : undefined;
  return {
    dkimKeys,
    signer,
    srsKeys,
    srsCreated: srs.created,
    srsDirectory:
      config.srs.domain === ''
        ? undefined
        : { domain: config.srs.domain, reverse: (local: string) => srsReverse(local, srsKeys, now(), config.srs.maxAgeDays) },
    arcKey,
    async reloadDkim() {
      const keys = await loadDkimKeys(config.dataDir, config.dkim);
      const before = new Map(inUse.map((k) => [`${k.domain}/${k.selector}`, k.privateKeyPem]));
      const changed = keys.filter((k) => before.get(`${k.domain}/${k.selector}`) !== k.privateKeyPem).map((k) => `${k.domain}/${k.selector}`);
      if (changed.length > 0) signer.swap(keys);
      inUse = keys;
      return { changed };
    },
  };
}

/** signing.reloadDkim(), logged: the keys that changed, or why the ones in use stay. */
export async function reloadDkim(signing: Signing, log: Logger): Promise<void> {
  try {
    const { changed } = await signing.reloadDkim();
    if (changed.length > 0) mailLog(log, 'daemon', { state: 'dkim-reloaded', keys: changed }, 'DKIM keys read again: new mail is signed with them');
  } catch (err) {
    log.error({ event: 'daemon', state: 'dkim-reload-failed', error: (err as Error).message }, 'DKIM keys not reloaded; the keys in use stay');
  }
}

/** The inbound checks' SPF/DKIM/DMARC settings, wherever they run (offload/adaptive.ts), through dns.servers, never node's global resolver; none when the checks are off. */
export function offloadChecks(config: Config) {
  return config.inbound.authenticationResults
    ? {
        verify: {
          hostname: config.hostname,
          dns: config.dns,
          dmarcReject: config.inbound.dmarcReject,
          timeoutMs: Math.max(5000, config.dns.timeoutMs * 4),
        },
      }
    : {};
}

/** The inbound checks as the intake calls them (offload/adaptive.ts: on the checks thread or the loop). */
export interface OffloadedChecks {
  verify?: (input: VerifyInput, feed?: BodyFeed) => Promise<Verdict>;
  spf?: (input: SpfInput) => Promise<SPFResult | undefined>;
  feed?: (sender: string) => BodyFeed;
}

/** The intake's signing and check deps: DKIM for our users, SPF/DKIM/DMARC, ARC sealing, rspamd. */
export function checkDeps(
  config: Config,
  o: { signing: Signing; offload: OffloadedChecks; now: () => number; recordRspamd: (direction: ScanDirection, action: string) => void },
): Pick<IntakeDeps, 'prepareOutgoing' | 'verifyInbound' | 'checkSpf' | 'feedChecks' | 'arcSeal' | 'rspamd'> {
  const { signer, arcKey } = o.signing;
  return {
    prepareOutgoing: (input) => prepareOutgoing(input, { signer, hostname: config.hostname }),
    ...(o.offload.verify ? { verifyInbound: o.offload.verify } : {}),
    // By whole input for a short time (spf-cache.ts): a sender's connection per message is evaluated once per window.
    ...(o.offload.spf ? { checkSpf: cachedSpf(o.offload.spf, { now: o.now }) } : {}),
    ...(o.offload.feed ? { feedChecks: o.offload.feed } : {}),
    ...(arcKey ? { arcSeal: { signingDomain: arcKey.domain, selector: arcKey.selector, privateKey: arcKey.privateKeyPem } } : {}),
    ...(config.rspamd
      ? {
          rspamd: {
            scan: createRspamdClient({ url: config.rspamd.url, timeoutMs: config.rspamd.timeoutMs, now: o.now }),
            fail: config.rspamd.fail,
            outbound: config.rspamd.outbound,
            hostname: config.hostname,
            record: o.recordRspamd,
          },
        }
      : {}),
  };
}
