// The doctor's checks at daemon start-up (without the port-25 probe): run once in the background
// after the listeners are up, each error logged once (event "doctor"), and the findings kept in
// data_dir/doctor.json, where `sealpost status` counts them. Network and file I/O.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/types.ts';
import { writeFileAtomic } from '../core/durable-fs.ts';
import type { Logger } from '../log/log.ts';
import { buildTrust } from '../tls-policy/trust.ts';
import { machineAddresses, pickAddresses } from './addresses.ts';
import { runChecks } from './families.ts';
import { counts, type Finding, type Level } from './findings.ts';
import { type DoctorLookups, gatherFacts } from './gather.ts';

export interface DoctorRecord {
  checkedAt: string;
  counts: Record<Level, number>;
  findings: Finding[];
}

export function doctorFile(dataDir: string): string {
  return path.join(dataDir, 'doctor.json');
}

/** Starts the checks; resolves when they are done (logged and written). Never rejects. */
export async function runStartupDoctor(config: Config, deps: { resolver: DoctorLookups; log: Logger; now: () => number }): Promise<DoctorRecord | undefined> {
  try {
    const picked = pickAddresses([], config.doctor.addresses, machineAddresses);
    const facts = await gatherFacts(config, {
      resolver: deps.resolver,
      addresses: picked.addresses,
      addressSource: picked.source,
      domains: [],
      now: deps.now,
      trust: buildTrust(config.outbound.caFile === '' ? '' : await readFile(config.outbound.caFile, 'utf8')),
      probeTimeoutMs: 10_000,
    });
    const findings = runChecks(facts);
    for (const f of findings.filter((x) => x.level === 'error')) {
      deps.log.error({ event: 'doctor', id: f.id, subject: f.subject, found: f.found, why: f.why, fix: f.fix }, 'doctor');
    }
    const record: DoctorRecord = { checkedAt: new Date(deps.now()).toISOString(), counts: counts(findings), findings };
    deps.log.info({ event: 'doctor', ...record.counts }, 'doctor: start-up checks done; details: sealpost doctor --config FILE');
    await writeFileAtomic(doctorFile(config.dataDir), `${JSON.stringify(record, null, 2)}\n`, 0o600);
    return record;
  } catch (err) {
    deps.log.warn({ err, event: 'doctor' }, 'doctor: the start-up checks could not run');
    return undefined;
  }
}

export async function readDoctorRecord(dataDir: string): Promise<DoctorRecord | undefined> {
  try {
    const parsed = JSON.parse(await readFile(doctorFile(dataDir), 'utf8')) as DoctorRecord;
    return parsed.counts ? parsed : undefined;
  } catch {
    return undefined;
  }
}
