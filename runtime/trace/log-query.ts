// The queries of trace-query.ts over a log read entry by entry (a file's lines: log-lines.ts; a
// stream's messages: stream-query.ts) instead of whole: `show` decodes only the entries whose
// text names the chain, `tail` reads from the end until it has its records, `stats` keeps counts
// only. So a query costs memory for its answer, not for the log, and a log larger than a string
// can be is still read.

import { forEachLine, forEachLineBackward } from './log-lines.js';
import { logFiles } from './log-segments.js';
import type { TraceRecord } from './records.js';
import { chainOf, DEFAULT_TAIL_LIMIT, recordsOfEntry, StatsTally, tail, type ActorStats, type TailFilters, type TraceAnswer, type TraceQuery } from './trace-query.js';

/** One chain's records, from the entries given in log order. */
export class ChainCollector {
  private readonly out: TraceRecord[] = [];
  /** The id as JSON writes it: every record of the chain carries it, so an entry without it holds none. */
  private readonly written: string;

  constructor(readonly correlationId: string) {
    this.written = JSON.stringify(correlationId).slice(1, -1);
  }

  add(entry: string): void {
    if (entry.includes(this.written)) recordsOfEntry(entry, this.out);
  }

  result(): TraceRecord[] {
    return chainOf(this.out, this.correlationId);
  }
}

/** `tail`, from the entries given last to first; `add` says whether it wants more. */
export class TailCollector {
  private readonly found: TraceRecord[][] = [];
  private count = 0;
  private readonly limit: number;

  constructor(
    private readonly filters: TailFilters = {},
    /** Only records this keeps, besides the filters. */
    private readonly keep?: (r: TraceRecord) => boolean,
  ) {
    this.limit = filters.limit ?? DEFAULT_TAIL_LIMIT;
  }

  add(entry: string): boolean {
    const records = recordsOfEntry(entry);
    const matches = tail(this.keep === undefined ? records : records.filter(this.keep), { ...this.filters, limit: this.limit - this.count });
    if (matches.length > 0) this.found.push(matches);
    this.count += matches.length;
    return this.count < this.limit;
  }

  result(): TraceRecord[] {
    return [...this.found].reverse().flat();
  }
}

/** `stats`, from every entry. */
export class StatsCollector {
  private readonly tally = new StatsTally();
  private readonly records: TraceRecord[] = [];

  add(entry: string): void {
    this.records.length = 0;
    for (const r of recordsOfEntry(entry, this.records)) this.tally.add(r);
  }

  result(): ActorStats[] {
    return this.tally.result();
  }
}

export const tailFilters = (q: Extract<TraceQuery, { kind: 'tail' }>): TailFilters => ({ limit: q.limit, actor: q.actor, type: q.type, denied: q.denied });

/** The answer to a query over a log file and its segments (what answerQuery gives over all their records). */
export function answerFileQuery(path: string, query: TraceQuery): TraceAnswer {
  switch (query.kind) {
    case 'show':
      return { kind: 'show', correlationId: query.correlationId, records: chainOfFile(path, query.correlationId) };
    case 'tail': {
      const c = new TailCollector(tailFilters(query));
      eachLineBackward(path, (line) => c.add(line));
      return { kind: 'tail', records: c.result() };
    }
    case 'stats':
      return { kind: 'stats', actors: statsOfFile(path) };
  }
}

/** Per actor: turns, failures, denials and turn-time percentiles, of a log file and its segments. */
export function statsOfFile(path: string): ActorStats[] {
  const c = new StatsCollector();
  eachLine(path, (line) => void c.add(line));
  return c.result();
}

/** One chain's records in a log file and its segments. */
export function chainOfFile(path: string, correlationId: string): TraceRecord[] {
  const c = new ChainCollector(correlationId);
  eachLine(path, (line) => void c.add(line));
  return c.result();
}

/** Every line of a log's files (log-segments.ts), oldest first, until `fn` returns false. */
export function eachLine(path: string, fn: (line: string) => boolean | void): void {
  let more = true;
  for (const f of logFilesOrLog(path)) {
    forEachLine(f, (line) => (more = fn(line) !== false));
    if (!more) return;
  }
}

/** Every line of a log's files, newest first, until `fn` returns false. */
export function eachLineBackward(path: string, fn: (line: string) => boolean): void {
  let more = true;
  for (const f of logFilesOrLog(path).reverse()) {
    forEachLineBackward(f, (line) => (more = fn(line)));
    if (!more) return;
  }
}

/** The log's files; the log alone when there are none (so a missing log fails to read, as it should). */
function logFilesOrLog(path: string): string[] {
  const files = logFiles(path);
  return files.length === 0 ? [path] : files;
}
