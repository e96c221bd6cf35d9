// The manager's status file <cache>/status.json: what `sealpost certs` shows (names, issuer,
// not-after, next renewal, last error) and what a restart resumes from (failure count and
// next retry, so a restart does not hammer a failing CA). Side effects: file system only.
import path from 'node:path';
import { writeFileAtomic } from '../core/durable-fs.ts';
import { readOptional } from './cache.ts';

export interface CertStatus {
  /** Names asked for, hostname first. */
  names: string[];
  /** The cached certificate, when one is in force. */
  current?: { serial: string; issuer: string; notBefore: string; notAfter: string; fingerprint256: string };
  /** When renewal is planned (ISO); ARI's pick when the server offered a window. */
  nextRenewalAt?: string;
  /** When the manager will act next for this certificate (renewal, retry or ARI poll). */
  nextCheckAt?: string;
  ari?: { windowStart: string; windowEnd: string; explanationUrl?: string; nextPollAt: string };
  /** After failures: no new attempt before this (backoff, Retry-After). */
  nextAttemptAt?: string;
  /** Consecutive failed attempts since the last success. */
  failures: number;
  lastError?: string;
  lastErrorAt?: string;
  lastIssuedAt?: string;
}

export interface AcmeStatusFile {
  updatedAt: string;
  pid: number;
  directory: string;
  accountUrl?: string;
  certificates: CertStatus[];
}

export function statusFile(root: string): string {
  return path.join(root, 'status.json');
}

export async function readStatus(root: string): Promise<AcmeStatusFile | undefined> {
  const text = await readOptional(statusFile(root));
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as AcmeStatusFile;
    return Array.isArray(parsed.certificates) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export async function writeStatus(root: string, status: AcmeStatusFile): Promise<void> {
  await writeFileAtomic(statusFile(root), `${JSON.stringify(status, null, 2)}\n`, 0o644);
}
