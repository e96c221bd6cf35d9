// Which key the next ACME certificate gets (pure): the current one again (reuse_key: a 3 1 1
// TLSA record, RFC 7671 §8.1, stays valid across renewals), the staged next key once
// rollover_after has passed since `sealpost dane rollover` staged it (the two-phase rollover of
// RFC 7671 §8.1: publish the new record next to the old, wait for the old TTLs, then switch), or a
// fresh one. A key of another type than acme.key_type is never used.
//
//   chooseKey({ keyType, reuseKey, rolloverAfterMs, now, current?, staged? }) → { kind, keyPem?, why }
import { createPrivateKey } from 'node:crypto';
import type { AcmeKeyType } from '../config/types.ts';

export interface KnownKey {
  keyPem: string;
  /** The key's type as read from the PEM; undefined for a type Sealpost does not make. */
  type: AcmeKeyType | undefined;
}

export interface StagedKey extends KnownKey {
  /** When `sealpost dane rollover` staged it (ms). */
  stagedAt: number;
}

export interface KeyInput {
  keyType: AcmeKeyType;
  reuseKey: boolean;
  rolloverAfterMs: number;
  now: number;
  /** The key of the certificate in force. */
  current?: KnownKey;
  staged?: StagedKey;
}

export type KeyChoice = { kind: 'staged'; keyPem: string; why: string } | { kind: 'reuse'; keyPem: string; why: string } | { kind: 'new'; why: string };

/** When a staged key becomes the one the next renewal uses. */
export function rolloverAt(staged: Pick<StagedKey, 'stagedAt'>, rolloverAfterMs: number): number {
  return staged.stagedAt + rolloverAfterMs;
}

export function chooseKey(input: KeyInput): KeyChoice {
  const { staged, current } = input;
  if (staged && staged.type === input.keyType && input.now >= rolloverAt(staged, input.rolloverAfterMs))
    return { kind: 'staged', keyPem: staged.keyPem, why: 'the staged key: rollover_after has passed since it was staged' };
  if (!input.reuseKey) return { kind: 'new', why: 'acme.reuse_key is false' };
  if (!current) return { kind: 'new', why: 'no certificate key yet' };
  if (current.type !== input.keyType) return { kind: 'new', why: `the current key is not ${input.keyType} (acme.key_type)` };
  const waiting = staged && staged.type === input.keyType ? '; a staged key waits for rollover_after' : '';
  return { kind: 'reuse', keyPem: current.keyPem, why: `the current key, kept (acme.reuse_key)${waiting}` };
}

/** The type of a private key (PEM) as acme.key_type names it; undefined for any other or an unreadable key. */
export function keyTypeOf(keyPem: string): AcmeKeyType | undefined {
  try {
    const key = createPrivateKey(keyPem);
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType === 'ec' && details?.namedCurve === 'prime256v1') return 'ecdsa-p256';
    if (key.asymmetricKeyType === 'rsa' && details?.modulusLength === 2048) return 'rsa-2048';
    return undefined;
  } catch {
    return undefined;
  }
}
