// For scripts/check-fresh-root (and by hand): publishes the records of `sealpost init --records
// --json --config FILE` into an in-process DNS server on 127.0.0.1, then runs `sealpost doctor`
// against it and exits with the doctor's exit code. Loopback only: run it inside netless.
//   node test/helpers/publish-and-doctor.ts CONFIG [doctor options...]
import path from 'node:path';
import { startDnsServer } from './dns-server.ts';
import { run } from './proc.ts';
import { addRecords } from './zone-records.ts';

const sealpost = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const [config, ...options] = process.argv.slice(2);
if (!config) {
  process.stderr.write('usage: node test/helpers/publish-and-doctor.ts CONFIG [doctor options...]\n');
  process.exit(2);
}
const records = await run(sealpost, ['init', '--records', '--json', '--config', config], { timeoutMs: 60_000 });
if (records.code !== 0) {
  process.stderr.write(records.stderr);
  process.exit(1);
}
const dns = await startDnsServer(addRecords(new Map(), (JSON.parse(records.stdout) as { records: Parameters<typeof addRecords>[1] }).records));
const doctor = await run(sealpost, ['doctor', '--config', config, '--dns', dns.address, ...options], { timeoutMs: 120_000 });
await dns.close();
process.stdout.write(doctor.stdout);
process.stderr.write(doctor.stderr);
process.exit(doctor.code ?? 1);
