// The check families of `sealpost doctor`, in the order they run and print. Each is a pure
// function from the gathered facts to findings. Extension point: MTA-STS, TLSRPT, TLSA (DANE) and
// DNSSEC add a family here (and their facts in findings.ts / gather.ts) when those features land.
import { checkBlocklists } from './checks/blocklists.ts';
import { checkCaa, checkCerts } from './checks/certs.ts';
import { checkDkim, checkDmarc } from './checks/dkim.ts';
import { checkHost, checkPtr } from './checks/host.ts';
import { checkMx } from './checks/mx.ts';
import { checkPort25 } from './checks/port25.ts';
import { checkSmarthost } from './checks/smarthost.ts';
import { checkSpf } from './checks/spf.ts';
import type { DoctorFacts, Finding } from './findings.ts';

export interface CheckFamily {
  id: string;
  title: string;
  run(facts: DoctorFacts): Finding[];
}

export const FAMILIES: readonly CheckFamily[] = [
  { id: 'host', title: 'Addresses of the hostname', run: checkHost },
  { id: 'ptr', title: 'Reverse DNS (forward-confirmed)', run: checkPtr },
  { id: 'mx', title: 'MX records', run: checkMx },
  { id: 'spf', title: 'SPF', run: checkSpf },
  { id: 'dkim', title: 'DKIM', run: checkDkim },
  { id: 'dmarc', title: 'DMARC', run: checkDmarc },
  { id: 'cert', title: 'Certificates', run: checkCerts },
  { id: 'caa', title: 'CAA', run: checkCaa },
  { id: 'dnsbl', title: 'Blocklists', run: checkBlocklists },
  { id: 'port25', title: 'Outbound port 25', run: checkPort25 },
  { id: 'smarthost', title: 'Smarthost', run: checkSmarthost },
];

export function runChecks(facts: DoctorFacts): Finding[] {
  return FAMILIES.flatMap((family) => family.run(facts));
}
