// The queries of trace-query.ts over a log file, read line by line (log-lines.ts) instead of
// whole: `show` decodes only the entries whose text names the chain, `tail` reads from the end
// until it has its records, `stats` keeps counts only. So a query costs memory for its answer,
// not for the log, and a log larger than a string can be is still read.

import { forEachLine, forEachLineBackward } from './log-lines.js';
import type { TraceRecord } from './records.js';
import { chainOf, DEFAULT_TAIL_LIMIT, recordsOfEntry, StatsTally, tail, type TraceAnswer, type TraceQuery } from './trace-query.js';

/** The answer to a query over a log file (what answerQuery gives over all its records). */
export function answerFileQuery(path: string, query: TraceQuery): TraceAnswer {
  switch (query.kind) {
    case 'show':
      return { kind: 'show', correlationId: query.correlationId, records: chainOfFile(path, query.correlationId) };
    case 'tail':
      return { kind: 'tail', records: tailOfFile(path, { limit: query.limit, actor: query.actor, type: query.type, denied: query.denied }) };
    case 'stats': {
      const tally = new StatsTally();
      const records: TraceRecord[] = [];
      forEachLine(path, (line) => {
        records.length = 0;
        for (const r of recordsOfEntry(line, records)) tally.add(r);
      });
      return { kind: 'stats', actors: tally.result() };
    }
  }
}

/** The chain's records: only entries whose text holds its id (as JSON writes it) can hold one: every record of it carries the id. */
export function chainOfFile(path: string, correlationId: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  const written = JSON.stringify(correlationId).slice(1, -1);
  forEachLine(path, (line) => {
    if (line.includes(written)) recordsOfEntry(line, out);
  });
  return chainOf(out, correlationId);
}

/** `tail` over a file: the last entries first, until the limit is reached. */
export function tailOfFile(path: string, filters: Parameters<typeof tail>[1] = {}): TraceRecord[] {
  const limit = filters.limit ?? DEFAULT_TAIL_LIMIT;
  const found: TraceRecord[][] = [];
  let count = 0;
  forEachLineBackward(path, (line) => {
    const matches = tail(recordsOfEntry(line), { ...filters, limit: limit - count });
    if (matches.length > 0) found.push(matches);
    count += matches.length;
    return count < limit;
  });
  return found.reverse().flat();
}
