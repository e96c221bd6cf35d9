// A pino logger whose JSON records land in an array, for asserting on the mail log.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/log.ts';

export interface CapturedLog {
  log: Logger;
  records: Record<string, unknown>[];
  /** The stream the records are parsed from (for a logger made elsewhere). */
  stream: Writable;
}

export function captureLog(level = 'debug'): CapturedLog {
  const records: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger(level, stream), records, stream };
}
