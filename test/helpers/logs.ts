// A pino logger whose records a test reads back: each line parsed, in the order written.

import { Writable } from 'node:stream';
import pino from 'pino';

export function recordingLogger<R>(level: pino.Level): { records: R[]; logger: pino.Logger } {
  const records: R[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as R);
      done();
    },
  });
  return { records, logger: pino({ level }, sink) };
}
