// A pino logger whose JSON records land in an array, for asserting on the mail log.
import { Writable } from 'node:stream';
import { type Logger, createLogger } from '../../../src/log/log.ts';

export function captureLog(): { log: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', sink), records };
}
