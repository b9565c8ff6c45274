// What the CLI writes, and where: the one result line of a command on stdout, progress and
// logs on stderr (so stdout stays machine-readable), and errors as `aos: <CODE>: <message>`.

import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { AosError } from '../index.js';
import type { LogLevel } from './args.js';

/** A progress note on stderr: "aos: starting embedded nats-server…". */
export function progress(message: string, prefix = 'aos'): void {
  process.stderr.write(`${prefix}: ${message}\n`);
}

/** One line for any error: `CODE: message` for runtime errors, with the cause's message when there is one. */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  const line = `${message}${cause}`.replace(/\s*\n\s*/g, ' | ');
  return err instanceof AosError ? `${err.code}: ${line}` : line;
}

/** The node's JSON log on stderr, written synchronously so nothing is lost when the process exits. */
export function stderrLogger(level: LogLevel, nodeId: string): Logger {
  return pino({ level, base: { node: nodeId } }, pino.destination({ dest: 2, sync: true }));
}

/** A logger for people: each record as one short line on stderr (`aos demo: [warn] dead letter: ERR_DECODE`). */
export function compactLogger(level: LogLevel, prefix: string): Logger {
  const names: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        try {
          const rec = JSON.parse(line) as { level: number; msg?: string; actor?: string };
          const who = rec.actor === undefined ? '' : ` (${rec.actor})`;
          process.stderr.write(`${prefix}: [${names[rec.level] ?? rec.level}] ${rec.msg ?? ''}${who}\n`);
        } catch {
          process.stderr.write(`${prefix}: ${line}\n`);
        }
      }
      done();
    },
  });
  return pino({ level, base: null, timestamp: false }, stream);
}
