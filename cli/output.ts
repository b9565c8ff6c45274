// What the CLI writes, and where: the one result line of a command on stdout, progress and
// logs on stderr (so stdout stays machine-readable), and errors as `aos: <CODE>: <message>`.

import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { AosError, type GovernanceStatus, type PolicyDoc } from '../index.js';
import { Policy } from '../internal.js';
import type { LogLevel } from './args.js';

/** A progress note on stderr: "aos: starting embedded nats-server…". */
export function progress(message: string, prefix = 'aos'): void {
  process.stderr.write(`${prefix}: ${message}\n`);
}

/** For a long read: how far it got (`verifying trace.log: 512 of 1,200 MB…`), at most once a second and only after the first. */
export function readProgress(what: string, unit: 'MB' | 'messages', say: (line: string) => void = progress, now: () => number = Date.now): (done: number, total: number) => void {
  let last = now();
  const fmt = (n: number) => Math.round(unit === 'MB' ? n / 1e6 : n).toLocaleString('en-US');
  return (done, total) => {
    const t = now();
    if (t - last < 1_000) return;
    last = t;
    say(`${what}: ${fmt(done)} of ${fmt(total)} ${unit}…`);
  };
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

/** 750ms, 2s, 1.5s, 3m, 2h: short, for people. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(ms < 10_000 ? 1 : 0))}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${Math.round(ms / 3_600_000)}h`;
}

/** Rows as aligned columns two spaces apart (the last column is not padded), one line each. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}

/**
 * An invalid policy, explained: `ERR_POLICY: <file> is not a valid policy (N problems):` and
 * then one indented line per problem, `<path>: <message>`. Undefined for any other error.
 */
export function describePolicyError(err: unknown): string | undefined {
  if (!(err instanceof AosError) || err.code !== 'ERR_POLICY') return undefined;
  const { source, issues } = err.details as { source?: unknown; issues?: unknown };
  if (!Array.isArray(issues) || issues.length === 0) return `ERR_POLICY: ${err.message}`; // unreadable: the message has the cause
  const lines = issues.map((i: { path?: unknown; message?: unknown }) => `  ${String(i.path ?? '(root)')}: ${String(i.message ?? '')}`);
  const what = err.cause instanceof SyntaxError ? 'is not valid JSON' : `is not a valid policy (${issues.length} problem${issues.length === 1 ? '' : 's'})`;
  return `ERR_POLICY: ${String(source ?? 'the policy')} ${what}:\n${lines.join('\n')}`;
}

/** `policy "support desk" version 3f2a… in force (from policy.json, revision 1 in the namespace's store)` */
export function policyLine(inForce: GovernanceStatus['policy'], file: string | undefined, given: PolicyDoc | undefined): string {
  const mine = given !== undefined && new Policy(given, 'aos').version === inForce.version; // the version does not depend on the namespace
  let from: string;
  if (inForce.origin === 'default') from = 'the development default: every actor may use the whole namespace';
  else if (inForce.origin === 'local') from = `from ${file}, on this node only: NATS has no JetStream`;
  else if (mine) from = `from ${file}, revision ${inForce.revision} in the namespace's store`;
  else from = `revision ${inForce.revision} in the namespace's store${file === undefined ? '' : `, not ${file}: change it with \`aos policy apply\``}`;
  return `policy ${JSON.stringify(inForce.name ?? '(unnamed)')} version ${inForce.version} in force (${from})`;
}
