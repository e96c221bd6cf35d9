// The inbound checks' test sender, sender.test, shared by the tests of the checks thread and of the
// checks on the loop: its DNS (SPF for 192.0.2.1, a DKIM key under selector s1, a DMARC policy),
// messages signed with that key, and the checks' settings on a test DNS server.
import { dkimSign } from 'mailauth';
import { dkimRecord } from '../../src/dkim/keys.ts';
import type { VerifySettings } from '../../src/mailauth/inbound.ts';
import { type DnsServer, startDnsServer, type Zone } from './dns-server.ts';

const SENDER_SPF: Zone = new Map([['sender.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] }]]);

/** A DNS server with sender.test's SPF record; `key`: its DKIM key as s1; `dmarc`: p=reject. */
export function senderDns(o: { spf?: boolean; key?: string; dmarc?: boolean } = {}): Promise<DnsServer> {
  const zone: Zone = new Map(o.spf === false ? [] : SENDER_SPF);
  if (o.key) zone.set('s1._domainkey.sender.test', { TXT: [dkimRecord(o.key)] });
  if (o.dmarc) zone.set('_dmarc.sender.test', { TXT: ['v=DMARC1; p=reject'] });
  return startDnsServer(zone);
}

/** `message` with sender.test's signature (s1) before it; relaxed/simple unless told. */
export async function signedBySender(message: string, key: string, canonicalization = 'relaxed/simple'): Promise<Buffer> {
  const options = { signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: key, canonicalization }] };
  return Buffer.from((await dkimSign(message, options as Parameters<typeof dkimSign>[1])).signatures + message);
}

/** The checks' settings as the daemon gives them, on the test's DNS server. */
export function checkSettings(dns: string, timeoutMs: number, dmarcReject = false): VerifySettings {
  return { hostname: 'mx.example.test', dns: { servers: [dns], timeoutMs: 2000 }, dmarcReject, timeoutMs };
}
