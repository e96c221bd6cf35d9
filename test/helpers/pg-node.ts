// A queue node in a process of its own, for tests that kill one with SIGKILL: opens the PostgreSQL
// queue store with its heartbeat on, claims up to LIMIT due remote recipients, prints their ids as
// one JSON line, then keeps renewing its leases until it is killed (it never completes the job).
//   node test/helpers/pg-node.ts URL PASSWORD_FILE NODE LEASE_MS LIMIT
import { openPool } from '../../src/queue/pg/connect.ts';
import { PgQueueStore } from '../../src/queue/pg/store.ts';
import { TEST_RETRY } from './queue-stores.ts';

const [url, passwordFile, node, leaseMs, limit] = process.argv.slice(2);
if (!url || !passwordFile || !node || !leaseMs || !limit) throw new Error('usage: pg-node.ts URL PASSWORD_FILE NODE LEASE_MS LIMIT');
const pool = openPool({ url, passwordFile }, 2);
const store = await PgQueueStore.open({ pool, node, retry: TEST_RETRY, leaseMs: Number(leaseMs), heartbeat: true });
const jobs = await store.claim('remote', Date.now(), Number(limit));
process.stdout.write(`${JSON.stringify(jobs.flatMap((j) => j.recipients.map((r) => r.id)))}\n`);
// Stay alive: the heartbeat's timer is unref'd, so hold the process open ourselves.
setInterval(() => undefined, 60_000);
